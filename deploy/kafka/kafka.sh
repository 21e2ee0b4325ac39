#!/usr/bin/env bash
# Local single-node Apache Kafka broker (KRaft) for machines without Docker.
#
#   deploy/kafka/kafka.sh fetch    download the broker jars from Maven Central once (.kafka/libs-*)
#   deploy/kafka/kafka.sh up       start the broker on 127.0.0.1:$KAFKA_PORT and wait until it answers
#   deploy/kafka/kafka.sh down     stop the broker this checkout started (by its recorded PID)
#   deploy/kafka/kafka.sh status   exit 0 if it is running and answering, else 1
#
# Environment: KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093), KAFKA_START_TIMEOUT (90 s),
# KAFKA_JVM_EXTRA_OPTS (-XX:TieredStopAtLevel=1: C1 JIT only, see `up`; empty for the full JIT).
# Everything it writes lives under .kafka/ (git-ignored). Every failure is one line on stderr.
set -euo pipefail

KAFKA_VERSION=3.9.2
KAFKA_PORT=${KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
START_TIMEOUT=${KAFKA_START_TIMEOUT:-90}
STOP_TIMEOUT=30
MIN_JAVA=17

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
STATE=$ROOT/.kafka
LIBS=$STATE/libs-$KAFKA_VERSION
CONF=$STATE/server.properties
DATA=$STATE/data
LOGDIR=$STATE/logs
LOG=$LOGDIR/broker.log
FETCH_LOG=$LOGDIR/fetch.log
PROBE_ERR=$LOGDIR/probe.err
PIDFILE=$STATE/broker.pid
PORTFILE=$STATE/broker.port
LOCKFILE=$STATE/kafka.lock
POM=$HERE/pom.xml
LOG4J=$HERE/log4j.properties
TEMPLATE=$HERE/server.properties.template

# The venv's Python has aiokafka (for a real metadata call); plain python3 is enough for the rest.
VENV_PY=$ROOT/.venv/bin/python
if [ -x "$VENV_PY" ]; then PY=$VENV_PY; else PY=$(command -v python3 || true); fi

# Paths in messages are repo-relative: shorter, and the same on every machine.
rel() { printf '%s' "${1#"$ROOT"/}"; }
say() { printf 'kafka: %s\n' "$*"; }
die() { printf 'kafka: error: %s\n' "$*" >&2; exit 1; }

usage() {
    printf 'usage: %s fetch|up|down|status\n' "$(rel "$0")" >&2
    exit 2
}

# Serialise up/down/fetch of this checkout, so two concurrent `up`s cannot start two brokers.
# The broker itself must not inherit the lock's file descriptor (`9>&-` in up).
take_lock() {
    mkdir -p "$STATE"
    exec 9>"$LOCKFILE"
    if ! flock -w 180 9; then
        die "another kafka.sh of this checkout holds $(rel "$LOCKFILE") for over 180 s"
    fi
}

# ---------------------------------------------------------------------------------------------
# Process helpers: only ever the PID recorded in .kafka/broker.pid.

recorded_pid() {
    local pid
    [ -f "$PIDFILE" ] || return 1
    pid=$(tr -dc '0-9' <"$PIDFILE")
    [ -n "$pid" ] || return 1
    printf '%s' "$pid"
}

recorded_port() {
    if [ -f "$PORTFILE" ]; then tr -dc '0-9' <"$PORTFILE"; else printf '%s' "$KAFKA_PORT"; fi
}

# Alive, not a zombie, and still our broker: a PID can be reused by an unrelated process
# after a reboot or crash, and we must never signal that one.
is_our_broker() {
    local pid=$1 state
    kill -0 "$pid" 2>/dev/null || return 1
    state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)
    [ "$state" != "Z" ] || return 1
    # No "| grep -q" under pipefail: grep exits at the first match, the writer gets SIGPIPE and
    # the pipeline fails at random. Read the whole text, then match.
    local cmdline
    cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" || true)
    [[ $cmdline == *"kafka.Kafka $CONF"* ]]
}

# One metadata call. With the venv: aiokafka's admin client lists topics. Without it: a TCP
# connect, which in KRaft means the broker is unfenced (its acceptors start last).
answers() {
    local port=$1 timeout=${2:-5}
    mkdir -p "$LOGDIR"
    if [ -x "$VENV_PY" ]; then
        # The last line of a failed probe goes to $PROBE_ERR, for the error message.
        # `timeout`: a wedged client must not stall the wait loop past its deadline.
        timeout $((timeout + 5)) "$VENV_PY" - "127.0.0.1:$port" "$timeout" <<'PY' >/dev/null 2>"$PROBE_ERR"
import asyncio
import sys

from aiokafka.admin import AIOKafkaAdminClient


async def main(bootstrap: str, timeout: float) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout)
        await asyncio.wait_for(admin.list_topics(), timeout)
    finally:
        await admin.close()


asyncio.run(main(sys.argv[1], float(sys.argv[2])))
PY
    else
        timeout "$timeout" bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null
    fi
}

# Something listens on 127.0.0.1:port (or on every address). Bind with SO_REUSEADDR like the JVM
# does, so sockets lingering in TIME_WAIT are not mistaken for a listener.
port_taken() {
    local port=$1
    if [ -n "$PY" ]; then
        ! "$PY" - "$port" <<'PY' 2>/dev/null
import socket
import sys

s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
finally:
    s.close()
PY
    else
        timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null
    fi
}

# The likeliest reason a start failed: the first ERROR or exception line of the broker log.
log_reason() {
    local line
    line=$(grep -m1 -E '(^\[[^]]*\] (ERROR|FATAL) )|Exception|Error:' "$LOG" 2>/dev/null | cut -c1-220 || true)
    [ -z "$line" ] || printf ' (%s)' "$line"
}

stop_pid() {
    local pid=$1 waited=0
    kill -TERM "$pid" 2>/dev/null || true
    while is_our_broker "$pid" && [ "$waited" -lt $((STOP_TIMEOUT * 10)) ]; do
        sleep 0.1
        waited=$((waited + 1))
    done
    if is_our_broker "$pid"; then
        say "broker (pid $pid) still running after ${STOP_TIMEOUT}s; sending KILL"
        kill -KILL "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != "Z" ]; do
            sleep 0.1
        done
    fi
}

# ---------------------------------------------------------------------------------------------
# fetch

check_bindings() {
    # Exactly one SLF4J 1.7 binding: with none the broker logs nothing (NOP logger); with two,
    # SLF4J picks one at random.
    # The listing is read whole before matching: "unzip -l | grep -q" under pipefail fails at
    # random (grep exits at the first match, unzip gets SIGPIPE), which once found 0 bindings.
    local dir=$1 jar listing bindings=()
    for jar in "$dir"/*.jar; do
        listing=$(unzip -Z1 "$jar" 2>/dev/null || true)
        if [[ $listing == *org/slf4j/impl/StaticLoggerBinder.class* ]]; then
            bindings+=("$(basename "$jar")")
        fi
    done
    if [ "${#bindings[@]}" -ne 1 ]; then
        printf 'expected exactly one SLF4J binding in %s, found %d: %s' \
            "$(rel "$dir")" "${#bindings[@]}" "${bindings[*]:-none}"
        return 1
    fi
}

fetch() {
    if [ -d "$LIBS" ]; then
        # Only a complete download is ever renamed to $LIBS, so its presence means complete.
        [ "${1:-}" != quiet ] || return 0
        say "jars already in $(rel "$LIBS") ($(find "$LIBS" -name '*.jar' | wc -l) jars)"
        return 0
    fi
    command -v mvn >/dev/null || die "Maven (mvn) not found; it is needed once to download the Kafka $KAFKA_VERSION jars from Maven Central"
    command -v unzip >/dev/null || die "unzip not found; it is needed to check the downloaded jars"
    mkdir -p "$LOGDIR"
    local tmp started
    tmp=$(mktemp -d "$STATE/.libs-$KAFKA_VERSION.partial.XXXXXX")
    chmod 755 "$tmp"  # mktemp -d makes it private; the cache is plain readable jars
    # Remove leftovers of earlier, interrupted fetches (never complete, never used).
    find "$STATE" -maxdepth 1 -name ".libs-$KAFKA_VERSION.partial.*" ! -path "$tmp" -exec rm -rf {} + 2>/dev/null || true
    say "fetching Apache Kafka $KAFKA_VERSION jars from Maven Central (once; log $(rel "$FETCH_LOG"))"
    started=$SECONDS
    if ! mvn -B --no-transfer-progress -f "$POM" \
        org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$tmp" >"$FETCH_LOG" 2>&1; then
        rm -rf "$tmp"
        local why
        # Maven nests causes as "a: b: c -> [Help 1]"; the last one (e.g. "Unknown host
        # repo.maven.apache.org") is the useful one.
        why=$(grep -m1 '^\[ERROR\] .' "$FETCH_LOG" | sed -e 's/ -> \[Help 1\]$//' -e 's/.*: \([^:]*: [^:]*\)$/\1/' -e 's/^\[ERROR\] *//' | cut -c1-200 || true)
        die "mvn could not download the Kafka jars (is Maven Central reachable?)${why:+: $why}; see $(rel "$FETCH_LOG")"
    fi
    local n why
    n=$(find "$tmp" -name '*.jar' | wc -l)
    if [ "$n" -lt 40 ] || [ ! -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ]; then
        rm -rf "$tmp"
        die "mvn finished but left only $n jars (no kafka_2.13-$KAFKA_VERSION.jar?); see $(rel "$FETCH_LOG")"
    fi
    if ! why=$(check_bindings "$tmp"); then
        rm -rf "$tmp"
        die "$why; check deploy/kafka/pom.xml"
    fi
    # mv -T: fails instead of nesting if a concurrent fetch finished first.
    if ! mv -T "$tmp" "$LIBS" 2>/dev/null; then
        rm -rf "$tmp"
        [ -d "$LIBS" ] || die "could not move the jars into $(rel "$LIBS")"
    fi
    say "fetched $n jars into $(rel "$LIBS") in $((SECONDS - started))s"
}

# ---------------------------------------------------------------------------------------------
# up

check_java() {
    command -v java >/dev/null || die "java not found; the Kafka broker needs Java $MIN_JAVA or newer"
    local version major
    version=$(java -version 2>&1 | awk -F'"' '/version/ {print $2; exit}')
    major=${version%%.*}
    [ "$major" = 1 ] && major=$(printf '%s' "$version" | cut -d. -f2)  # 1.8.0_x style
    if ! [ "$major" -ge "$MIN_JAVA" ] 2>/dev/null; then
        die "Java $MIN_JAVA or newer is needed for the Kafka broker, found '${version:-unknown}' ($(command -v java))"
    fi
}

render_config() {
    mkdir -p "$STATE"
    sed -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" \
        -e "s|@KAFKA_CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
        -e "s|@DATA_DIR@|$DATA|g" \
        "$TEMPLATE" >"$CONF.tmp"
    mv "$CONF.tmp" "$CONF"
}

up() {
    local pid port
    case $KAFKA_PORT$KAFKA_CONTROLLER_PORT in *[!0-9]*) die "KAFKA_PORT and KAFKA_CONTROLLER_PORT must be numbers" ;; esac
    [ "$KAFKA_PORT" != "$KAFKA_CONTROLLER_PORT" ] || die "KAFKA_PORT and KAFKA_CONTROLLER_PORT are both $KAFKA_PORT; they must differ"
    take_lock

    if pid=$(recorded_pid) && is_our_broker "$pid"; then
        port=$(recorded_port)
        if [ "$port" != "$KAFKA_PORT" ]; then
            die "our broker (pid $pid) is already running on port $port, not $KAFKA_PORT; run \`$(rel "$0") down\` first"
        fi
        if answers "$port" 5; then
            say "already running (pid $pid) on 127.0.0.1:$port; not starting another"
            return 0
        fi
        # Maybe still starting (an earlier `up` was interrupted): give it the usual time.
        say "broker (pid $pid) is running but not answering yet; waiting"
        wait_ready "$pid" "$port" "$SECONDS" || die "broker (pid $pid) is running but does not answer on 127.0.0.1:$port; run \`$(rel "$0") down\` and retry; see $(rel "$LOG")"
        return 0
    fi
    rm -f "$PIDFILE" "$PORTFILE"

    check_java
    [ -n "$PY" ] || die "python3 not found; it is needed to generate the cluster id (run \`make setup\`)"
    local p
    for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
        if port_taken "$p"; then
            die "port $p on 127.0.0.1 is already in use (another Kafka?); free it or set KAFKA_PORT / KAFKA_CONTROLLER_PORT"
        fi
    done
    fetch quiet

    render_config
    rm -rf "$DATA"
    mkdir -p "$DATA" "$LOGDIR"
    local cluster_id started
    # Same 22-character URL-safe base64 form as `kafka-storage random-uuid`, without a JVM,
    # and like Kafka's Uuid.randomUuid never starting with "-": the storage tool's argument
    # parser reads such an id as an option and formatting fails (1 start in 64 did).
    cluster_id=$("$PY" -c 'import base64, uuid
while (u := base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()).startswith("-"): pass
print(u)')
    started=$SECONDS
    # Keep the previous run's log: it may be the one explaining a failure.
    [ ! -f "$LOG" ] || mv -f "$LOG" "$LOG.1"
    rm -f "$PROBE_ERR"
    printf '== kafka.sh up %s: format %s (cluster id %s)\n' "$(date -Is)" "$(rel "$DATA")" "$cluster_id" >"$LOG"
    if ! java -Xmx256m -Dlog4j.configuration="file:$LOG4J" -cp "$LIBS/*" \
        kafka.tools.StorageTool format -t "$cluster_id" -c "$CONF" >>"$LOG" 2>&1 9>&-; then
        die "formatting the broker's data dir failed$(log_reason); see $(rel "$LOG")"
    fi
    printf '== kafka.sh up %s: start kafka.Kafka on 127.0.0.1:%s\n' "$(date -Is)" "$KAFKA_PORT" >>"$LOG"

    # nohup + </dev/null: the broker outlives this script and the terminal; 9>&-: it must not
    # keep our lock. nohup execs java, so $! is the JVM's own PID (the one `down` signals).
    # JVM flags follow kafka-server-start.sh / kafka-run-class.sh (which a bare java call skips),
    # plus KAFKA_JVM_EXTRA_OPTS, by default -XX:TieredStopAtLevel=1: this broker shares a
    # small machine with what it serves and lives for one test run or bench, and in its
    # first minutes the JIT's C2 thread took 1.2 s of CPU per million events a worker read
    # (twice the ~0.5 s of serving them), through five bench-sized runs. C1 alone compiles
    # at once and served those runs at 0.5-0.9 s. KAFKA_JVM_EXTRA_OPTS= (empty) restores C2.
    nohup java -Xms512m -Xmx1g -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
        -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
        -XX:MaxInlineLevel=15 -Djava.awt.headless=true ${KAFKA_JVM_EXTRA_OPTS--XX:TieredStopAtLevel=1} \
        -Dlog4j.configuration="file:$LOG4J" -Dkafka.logs.dir="$LOGDIR" \
        -cp "$LIBS/*" kafka.Kafka "$CONF" </dev/null >>"$LOG" 2>&1 9>&- &
    pid=$!
    # Not a job of this shell any more: no "Killed" job report if it dies while we wait.
    disown "$pid" 2>/dev/null || true
    printf '%s\n' "$pid" >"$PIDFILE"
    printf '%s\n' "$KAFKA_PORT" >"$PORTFILE"

    if ! wait_ready "$pid" "$KAFKA_PORT" "$started"; then
        if is_our_broker "$pid"; then
            local detail
            if grep -q 'Kafka Server started' "$LOG" 2>/dev/null; then
                if [ -s "$PROBE_ERR" ]; then
                    detail="it logged 'Kafka Server started', but the metadata call failed: $(tail -n1 "$PROBE_ERR" | cut -c1-160)"
                else
                    detail="it logged 'Kafka Server started', but nothing accepts connections on the port"
                fi
            else
                detail="it never logged 'Kafka Server started'$(log_reason)"
            fi
            stop_pid "$pid" >/dev/null
            rm -f "$PIDFILE" "$PORTFILE"
            die "broker did not answer on 127.0.0.1:$KAFKA_PORT within ${START_TIMEOUT}s (stopped it; $detail); see $(rel "$LOG")"
        fi
        rm -f "$PIDFILE" "$PORTFILE"
        die "broker exited during startup$(log_reason); see $(rel "$LOG")"
    fi
    say "up (pid $pid) on 127.0.0.1:$KAFKA_PORT after $((SECONDS - started))s; log $(rel "$LOG")"
}

# Wait until the broker answers a metadata call; fail fast if the process dies.
wait_ready() {
    local pid=$1 port=$2 started=$3
    while [ $((SECONDS - started)) -lt "$START_TIMEOUT" ]; do
        is_our_broker "$pid" || return 1
        # Without the venv, the log line is the readiness signal (the TCP check follows it).
        if [ -x "$VENV_PY" ] || grep -q 'Kafka Server started' "$LOG" 2>/dev/null; then
            # The cheap TCP probe first: a Python start per second would steal a core from the JVM.
            if timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null && answers "$port" 5; then
                return 0
            fi
        fi
        sleep 1
    done
    return 1
}

# ---------------------------------------------------------------------------------------------
# down, status

down() {
    local pid
    take_lock
    if ! pid=$(recorded_pid); then
        say "not running (no $(rel "$PIDFILE")); nothing to stop"
        rm -f "$PORTFILE"
        return 0
    fi
    if ! is_our_broker "$pid"; then
        say "not running (pid $pid from $(rel "$PIDFILE") is gone or is not our broker); removed the stale PID file"
        rm -f "$PIDFILE" "$PORTFILE"
        return 0
    fi
    local started=$SECONDS
    stop_pid "$pid"
    rm -f "$PIDFILE" "$PORTFILE"
    say "stopped (pid $pid) in $((SECONDS - started))s"
}

status() {
    local pid port
    if pid=$(recorded_pid) && is_our_broker "$pid"; then
        port=$(recorded_port)
        if answers "$port" 5; then
            printf 'running (pid %s) on 127.0.0.1:%s\n' "$pid" "$port"
            return 0
        fi
        printf 'not running (pid %s is alive but does not answer on 127.0.0.1:%s; see %s)\n' "$pid" "$port" "$(rel "$LOG")"
        return 1
    fi
    printf 'not running\n'
    return 1
}

case ${1:-} in
    fetch) take_lock; fetch ;;
    up) up ;;
    down) down ;;
    status) status ;;
    *) usage ;;
esac
