#!/usr/bin/env bash
# Installs Debian's chromium, the headless browser the report tests load the HTML report in
# (tests/unit/report/test_report_browser.py). Idempotent: does nothing when `chromium` runs.
#
# Only as root (apt-get install needs it; an `apt-get update` first when apt does not know
# the package yet). Otherwise, or when apt cannot fetch it, it says so in one line and exits
# 1; only the browser tests need chromium, and they fail (never skip) without it.
set -euo pipefail

die() { printf 'chromium: error: %s\n' "$*" >&2; exit 1; }

if command -v chromium >/dev/null 2>&1 && chromium --version >/dev/null 2>&1; then
    exit 0
fi
command -v apt-get >/dev/null || die "no chromium on PATH and no apt-get; install Chromium so that 'chromium' is on PATH"
[ "$(id -u)" = 0 ] || die "no chromium on PATH; as root run: apt-get install -y --no-install-recommends chromium"

# Captured first: grep -q would close the pipe early, and pipefail turns that into a failure.
has_candidate() {
    local policy
    policy=$(apt-cache policy chromium 2>/dev/null || true)
    [[ $policy == *"Candidate: "[0-9]* ]]
}
has_candidate || apt-get update -qq >/dev/null 2>&1 || true
has_candidate || die "apt does not know the 'chromium' package (is a Debian mirror reachable?)"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null \
    || die "apt-get install chromium failed (no network to Debian's mirror?)"
chromium --version >/dev/null 2>&1 || die "chromium was installed but does not run on this machine"
printf 'chromium: %s\n' "$(chromium --version 2>/dev/null | tail -n 1)"
