"""Driftline against a broker with security on: SASL_SSL (SCRAM-SHA-512), mTLS, and ACLs.

The module starts its own broker (tests/securekit.py: throwaway CA and certificates, SCRAM
users made at format time, the StandardAuthorizer on) once, on free ports, and stops it by
PID. Every identity gets exactly the ACLs of ``app.permissions.required_grants``, so the
end-to-end runs also prove that list is enough. Input is produced, and results are read,
over the broker's loopback PLAINTEXT listener (a super user), independently of the code
under test.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import orjson
import pytest

from app.config import load_settings
from app.demo.traffic import write_training_csv
from app.permissions import required_grants
from tests.integration.conftest import DriftlineCLI, driftline_argv
from tests.integration.stream_scenario import (
    DRIFT_WINDOW,
    MODEL,
    PER_WINDOW,
    PREDICTION,
    STREAM_ENV,
    WINDOWS,
    closing_events,
    scenario_events,
    window_start,
)
from tests.integration.streamkit import docs, http_get, metric, produce, read_topic, wait_http
from tests.securekit import USERS, SecureBroker, free_port, grant

PRINCIPALS = {"admin": "User:admin", "publisher": "User:publisher", "worker": "User:worker"}


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    secured = SecureBroker(tmp_path_factory.mktemp("secured-broker"))
    try:
        secured.start()
    except RuntimeError as err:
        pytest.fail(str(err), pytrace=False)
    try:
        yield secured
    finally:
        secured.stop()


@pytest.fixture(scope="module")
def baseline_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One baseline for the module's deployments (building needs no broker)."""
    folder = tmp_path_factory.mktemp("baseline")
    cli = DriftlineCLI("127.0.0.1:1", folder)
    train = write_training_csv(folder / "train.csv", 20_000)
    out = folder / "baseline.json"
    built = cli.run(
        [
            "baseline", "build", "--input", str(train), "--model-id", MODEL,
            "--prediction-column", PREDICTION, "--out", str(out), "--no-progress",
        ]
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    return out


def deployment_env(name: str, tmp_path: Path) -> dict[str, str]:
    """Topic names, app id, state dir and web port of one deployment on the secured broker."""
    return {
        **STREAM_ENV,
        "DRIFTLINE_TOPIC_PREDICTIONS": f"{name}-predictions",
        "DRIFTLINE_TOPIC_BASELINES": f"{name}-baselines",
        "DRIFTLINE_TOPIC_WINDOWS": f"{name}-windows",
        "DRIFTLINE_TOPIC_ALERTS": f"{name}-alerts",
        "DRIFTLINE_TOPIC_DEADLETTER": f"{name}-deadletter",
        "DRIFTLINE_TOPIC_PARTIALS": f"{name}-partials",
        "DRIFTLINE_APP_ID": name,
        "DRIFTLINE_DATA_DIR": str(tmp_path / "state"),
        "DRIFTLINE_WEB_PORT": str(free_port()),
    }


async def set_up(
    broker: SecureBroker, cli: DriftlineCLI, env: dict[str, str], baseline: Path
) -> None:
    """As a deployment would: the admin creates the topics, every identity gets its ACLs,
    the publisher publishes the baseline."""
    created = cli.run(["topics", "create"], {**env, **broker.sasl_env("admin")})
    assert created.returncode == 0, created.stderr
    settings_env = {k.removeprefix("DRIFTLINE_").lower(): v for k, v in env.items()}
    settings = load_settings(
        **{k: v for k, v in settings_env.items() if k.startswith(("topic_", "app_id"))}
    )
    await grant(broker.plain_bootstrap, required_grants(settings), PRINCIPALS)
    published = cli.run(
        ["baseline", "publish", str(baseline)], {**env, **broker.sasl_env("publisher")}
    )
    assert published.returncode == 0, published.stderr


async def run_worker_and_check(
    broker: SecureBroker,
    cli: DriftlineCLI,
    env: dict[str, str],
    worker_env: dict[str, str],
    tmp_path: Path,
    while_running: Callable[[], Awaitable[None]] | None = None,
) -> str:
    """Events in, a worker over the secured listener, then exact counts and one alert where
    the drift was planted. Returns /metrics as the worker served it."""
    values = scenario_events()
    await produce(
        broker.plain_bootstrap,
        env["DRIFTLINE_TOPIC_PREDICTIONS"],
        values,
        partitions=[i % 4 for i in range(len(values))],
    )
    worker = cli.start(["worker"], tmp_path / "worker", {**env, **worker_env})
    wait_http(f"http://127.0.0.1:{env['DRIFTLINE_WEB_PORT']}/ready", timeout_s=90)
    results = docs(
        await read_topic(
            broker.plain_bootstrap,
            env["DRIFTLINE_TOPIC_WINDOWS"],
            until=lambda recs: len(recs) >= WINDOWS,
            timeout_s=120,
        )
    )
    alerts = docs(
        await read_topic(
            broker.plain_bootstrap,
            env["DRIFTLINE_TOPIC_ALERTS"],
            until=lambda r: len(r) >= 1,
            timeout_s=30,
        )
    )
    _, body = http_get(f"http://127.0.0.1:{env['DRIFTLINE_WEB_PORT']}/metrics")
    if while_running is not None:
        await while_running()
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=60) == 0, (tmp_path / "worker" / "stderr.log").read_text()[-3000:]

    results.sort(key=lambda r: r["window"]["start_ms"])
    assert [r["window"]["start_ms"] for r in results] == [window_start(i) for i in range(WINDOWS)]
    assert [r["n_events"] for r in results] == [PER_WINDOW] * WINDOWS
    assert [r["status"] for r in results] == [
        "drift" if i == DRIFT_WINDOW else "ok" for i in range(WINDOWS)
    ]
    alerts = [d for d in alerts if d["kind"] == "drift_event"]  # not the incident it opened
    assert len(alerts) == 1
    assert alerts[0]["window_id"] == results[DRIFT_WINDOW]["window_id"]
    assert metric(body, "driftline_events_valid_total", model=MODEL) == WINDOWS * PER_WINDOW
    logs = b"".join(p.read_bytes() for p in (tmp_path / "worker").glob("*.log")).decode()
    for password in USERS.values():
        assert password not in body
        assert password not in logs
    return body


async def test_a_sasl_ssl_worker_with_only_its_acls_alerts_and_its_identity_cannot_publish(
    broker: SecureBroker, baseline_file: Path, tmp_path: Path
) -> None:
    cli = DriftlineCLI(broker.secure_bootstrap, tmp_path)
    env = deployment_env("sasl", tmp_path)
    worker_env = {**env, **broker.sasl_env("worker")}

    async def publish_as_the_worker() -> None:
        # Whatever the content (here the genuine file), the worker's identity may not write.
        refused = cli.run(["baseline", "publish", str(baseline_file)], worker_env)
        assert refused.returncode == 2
        assert refused.stdout == ""
        assert refused.stderr == (
            "driftline: error: Kafka denied user 'worker' (SCRAM-SHA-512): writing to the "
            f"baselines topic {env['DRIFTLINE_TOPIC_BASELINES']}, which only the publishing "
            'identity may write (README "Permissions"); nothing was published\n'
        )
        # Nothing reached the topic, and the running worker still uses the published
        # baseline for a later window (two windows on: past whatever event time the idle
        # worker has advanced meanwhile, so none of these events is late).
        on_topic = await read_topic(broker.plain_bootstrap, env["DRIFTLINE_TOPIC_BASELINES"])
        assert len(on_topic) == 1
        later = [
            orjson.dumps({**orjson.loads(v), "timestamp": window_start(WINDOWS + 2) + i})
            for i, v in enumerate(scenario_events(windows=1, per_window=200))
        ]
        # One event per partition past the window's end and lateness closes it by event
        # time (not after a minute of idle advance).
        later += closing_events(later, WINDOWS + 3)
        await produce(
            broker.plain_bootstrap,
            env["DRIFTLINE_TOPIC_PREDICTIONS"],
            later,
            partitions=[i % 4 for i in range(len(later))],
        )
        results = docs(
            await read_topic(
                broker.plain_bootstrap,
                env["DRIFTLINE_TOPIC_WINDOWS"],
                until=lambda recs: len(recs) >= WINDOWS + 1,
                timeout_s=90,
            )
        )
        last = max(results, key=lambda r: r["window"]["start_ms"])
        assert last["window"]["start_ms"] == window_start(WINDOWS + 2)
        assert (last["baseline_id"], last["n_events"]) == (docs(on_topic)[0]["baseline_id"], 200)

    try:
        await set_up(broker, cli, env, baseline_file)
        await run_worker_and_check(
            broker, cli, env, broker.sasl_env("worker"), tmp_path, publish_as_the_worker
        )
    finally:
        cli.kill_leftovers()


async def test_a_worker_over_mtls_with_only_its_acls_counts_exactly_and_alerts(
    broker: SecureBroker, baseline_file: Path, tmp_path: Path
) -> None:
    cli = DriftlineCLI(broker.mtls_bootstrap, tmp_path)
    env = deployment_env("mtls", tmp_path)
    try:
        await set_up(broker, cli, env, baseline_file)
        await run_worker_and_check(broker, cli, env, broker.mtls_env(), tmp_path)
    finally:
        cli.kill_leftovers()


# Each case: how the client is misconfigured, and the exact start of its one line.
MISCONFIGURED: dict[str, tuple[str, dict[str, str | None], str]] = {
    "wrong-password": (
        "sasl",
        {"DRIFTLINE_KAFKA_SASL_PASSWORD_FILE": None, "DRIFTLINE_KAFKA_SASL_PASSWORD": "nope-x1"},
        "rejected the credentials of user 'worker' (SCRAM-SHA-512): check "
        "DRIFTLINE_KAFKA_SASL_USERNAME and the password",
    ),
    "broker-certificate-not-trusted": (
        "sasl",
        {"DRIFTLINE_KAFKA_SSL_CA_FILE": None},
        "the broker's certificate is not trusted (self-signed certificate in certificate "
        "chain): set DRIFTLINE_KAFKA_SSL_CA_FILE",
    ),
    "client-certificate-not-trusted": (
        "rogue",
        {},
        "rejected the certificate in ",
    ),
    "plaintext-client-on-tls-port": (
        "sasl",
        {
            "DRIFTLINE_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT",
            "DRIFTLINE_KAFKA_SASL_MECHANISM": None,
            "DRIFTLINE_KAFKA_SASL_USERNAME": None,
            "DRIFTLINE_KAFKA_SASL_PASSWORD_FILE": None,
            "DRIFTLINE_KAFKA_SSL_CA_FILE": None,
        },
        "expects TLS on this port but DRIFTLINE_KAFKA_SECURITY_PROTOCOL is PLAINTEXT: set it "
        "to SSL or SASL_SSL",
    ),
}


# Every case from the CLI; a worker start goes through the same client start, so two cases
# (one SASL, one TLS) show it reports the same line.
@pytest.mark.parametrize(
    ("case", "command"),
    [(case, ["topics", "list"]) for case in sorted(MISCONFIGURED)]
    + [("wrong-password", ["worker"]), ("client-certificate-not-trusted", ["worker"])],
    ids=lambda v: v if isinstance(v, str) else "-".join(v),
)
def test_a_misconfigured_client_fails_in_one_line_without_a_secret(
    broker: SecureBroker, tmp_path: Path, case: str, command: list[str]
) -> None:
    listener, changes, expected = MISCONFIGURED[case]
    base = broker.mtls_env(rogue=True) if listener == "rogue" else broker.sasl_env("worker")
    env = {k: v for k, v in {**base, **changes}.items() if v is not None}
    removed = [k for k, v in changes.items() if v is None]
    cli = DriftlineCLI(env["DRIFTLINE_KAFKA_BOOTSTRAP"], tmp_path)
    full = cli.env({**deployment_env("bad", tmp_path), **env})
    for key in removed:
        full.pop(key, None)
    done = subprocess.run(
        [*driftline_argv(), *command],
        env=full,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    bootstrap = env["DRIFTLINE_KAFKA_BOOTSTRAP"]
    assert lines[0].startswith(f"driftline: error: Kafka at {bootstrap}"), lines[0]
    assert expected in lines[0]
    for secret in [*USERS.values(), "nope-x1"]:
        assert secret not in done.stderr
