#!/usr/bin/env bash
# Puts Prometheus's promtool at .tools/promtool and the Prometheus server at .tools/prometheus
# (git-ignored): promtool checks /metrics and the alert rules in the tests, the server scrapes
# a real worker in tests/integration/test_prometheus_scrape.py. Idempotent: does nothing when
# both already run.
#
# Where it comes from, first that works:
#   1. promtool and prometheus already on PATH (linked, not copied);
#   2. Debian's `prometheus` package, fetched with `apt-get download` into .tools/cache and
#      unpacked with `dpkg-deb -x` (no install, nothing outside this checkout; as root, an
#      `apt-get update` first if apt does not know the package yet).
# promtool is a static Go binary, so the package's dependencies are not needed.
# When neither works it says so in one line and exits 1; only the promtool test needs it.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
TOOLS=$ROOT/.tools
CACHE=$TOOLS/cache
TARGET=$TOOLS/promtool
SERVER=$TOOLS/prometheus

die() { printf 'promtool: error: %s\n' "$*" >&2; exit 1; }

runs() { [ -x "$1" ] && "$1" --version >/dev/null 2>&1; }

if runs "$TARGET" && runs "$SERVER"; then
    exit 0
fi
mkdir -p "$CACHE"
if found=$(command -v promtool 2>/dev/null) && [ "$found" != "$TARGET" ] \
    && server=$(command -v prometheus 2>/dev/null) && [ "$server" != "$SERVER" ]; then
    ln -sfn "$found" "$TARGET"
    ln -sfn "$server" "$SERVER"
    exit 0
fi
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null \
    || die "no promtool on PATH and no apt-get/dpkg-deb to fetch Debian's prometheus package; install promtool (Prometheus 2.x) on PATH"

# Captured first: grep -q would close the pipe early, and pipefail turns that into a failure.
has_candidate() {
    local policy
    policy=$(apt-cache policy prometheus 2>/dev/null || true)
    [[ $policy == *"Candidate: "[0-9]* ]]
}
if ! has_candidate && [ "$(id -u)" = 0 ]; then
    apt-get update -qq >/dev/null 2>&1 || true
fi
has_candidate || die "apt does not know the 'prometheus' package (run apt-get update as root, or put promtool on PATH)"

deb=$(ls "$CACHE"/prometheus_*.deb 2>/dev/null | head -n 1 || true)
if [ -z "$deb" ]; then
    # apt's sandbox user may not write here; the warning about it is harmless.
    (cd "$CACHE" && apt-get download -qq prometheus >/dev/null 2>&1) \
        || die "apt-get download prometheus failed (no network to Debian's mirror?); put promtool on PATH"
    deb=$(ls "$CACHE"/prometheus_*.deb | head -n 1)
fi
rm -rf "$CACHE/unpacked"
dpkg-deb -x "$deb" "$CACHE/unpacked" || die "dpkg-deb could not unpack $deb"
for tool in promtool prometheus; do
    [ -x "$CACHE/unpacked/usr/bin/$tool" ] || die "$deb holds no usr/bin/$tool"
    ln -sfn "$CACHE/unpacked/usr/bin/$tool" "$TOOLS/$tool"
    runs "$TOOLS/$tool" || die "$TOOLS/$tool does not run on this machine"
    printf '%s: %s\n' "$tool" "$("$TOOLS/$tool" --version 2>&1 | head -n 1)"
done
