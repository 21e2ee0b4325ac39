"""Integration-test harness: tests here run against the real Kafka broker.

Start it with ``make kafka-up`` (``make test`` does that for you), or point
DRIFTLINE_KAFKA_BOOTSTRAP at another broker. Without a reachable broker every test here
FAILS with a message saying so; none is skipped, so a missing broker cannot pass as green.

Every test gets its own name prefix (topics, app id, consumer group), so tests neither
see each other's data nor depend on a fresh broker.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
BOOTSTRAP = os.environ.get("DRIFTLINE_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
# Per-test ceiling (pytest-timeout): a hung broker call or worker must not hang the suite.
DEFAULT_TEST_TIMEOUT_S = 180


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Hooks in a conftest see every collected item, not only this directory's.
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.integration)
            if item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(DEFAULT_TEST_TIMEOUT_S))


async def _metadata_call(bootstrap: str, timeout_s: float) -> list[str]:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000)
    )
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        topics: list[str] = await asyncio.wait_for(admin.list_topics(), timeout_s)
        return topics
    finally:
        await admin.close()


@pytest.fixture(scope="session", autouse=True)
def kafka_bootstrap() -> str:
    """The broker's bootstrap address, after one successful metadata call (else pytest.fail)."""
    reason = ""
    try:
        asyncio.run(_metadata_call(BOOTSTRAP, timeout_s=10.0))
    except Exception as err:  # any failure here means the same thing: no usable broker
        name = type(err).__name__
        reason = str(err) if str(err).startswith(name) else f"{name}: {err}"
    if reason:
        # Outside the except block, so the report is this message, not a chained traceback.
        pytest.fail(
            f"Kafka broker not reachable at {BOOTSTRAP} ({reason}). "
            "Integration tests need a real broker: run `make test` (starts and stops one), "
            "or `make kafka-up` first, or set DRIFTLINE_KAFKA_BOOTSTRAP.",
            pytrace=False,
        )
    return BOOTSTRAP


@pytest.fixture
def unique_prefix(request: pytest.FixtureRequest) -> str:
    """A name prefix no other test (or earlier run against the same broker) uses.

    Valid in Kafka topic names, Faust app ids and consumer group ids: [a-z0-9-] only.
    """
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:32]
    return f"it-{name}-{uuid.uuid4().hex[:8]}"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (at the time of the call)."""
    return _free_port()


@pytest.fixture
def topic_env(unique_prefix: str) -> dict[str, str]:
    """DRIFTLINE_* topic settings with this test's unique topic names (4 partitions)."""
    return {
        "DRIFTLINE_TOPIC_PREDICTIONS": f"{unique_prefix}-predictions",
        "DRIFTLINE_TOPIC_BASELINES": f"{unique_prefix}-baselines",
        "DRIFTLINE_TOPIC_WINDOWS": f"{unique_prefix}-windows",
        "DRIFTLINE_TOPIC_ALERTS": f"{unique_prefix}-alerts",
        "DRIFTLINE_TOPIC_DEADLETTER": f"{unique_prefix}-deadletter",
        "DRIFTLINE_TOPIC_PARTIALS": f"{unique_prefix}-partials",
        "DRIFTLINE_PARTITIONS": "4",
    }


@pytest.fixture
async def kafka_admin(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaAdminClient]:
    """Our own aiokafka admin client, independent of the app's admin helper."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


def driftline_argv() -> list[str]:
    """How to run the ``driftline`` console script of this interpreter's environment."""
    script = Path(sys.executable).with_name("driftline")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "app"]


class DriftlineCLI:
    """Runs ``driftline`` as a subprocess, as an operator would; kills leftovers at teardown."""

    def __init__(self, bootstrap: str, workdir: Path) -> None:
        self.bootstrap = bootstrap
        self.workdir = workdir
        self._started: list[subprocess.Popen[bytes]] = []

    def env(self, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
        # Inherited DRIFTLINE_* settings (other than how to reach Kafka) would make the
        # tests depend on the caller's shell; each test states what it needs.
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("DRIFTLINE_") or k.startswith("DRIFTLINE_KAFKA_")
        }
        env["DRIFTLINE_KAFKA_BOOTSTRAP"] = self.bootstrap
        env["PYTHONUNBUFFERED"] = "1"
        env.update(overrides or {})
        return env

    def run(
        self,
        args: Sequence[str],
        env: Mapping[str, str] | None = None,
        timeout_s: float = 90.0,
    ) -> subprocess.CompletedProcess[str]:
        """Run to completion; returns exit code, stdout and stderr (text)."""
        return subprocess.run(
            [*driftline_argv(), *args],
            env=self.env(env),
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    def start(
        self, args: Sequence[str], log_dir: Path, env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Start in the background; stdout/stderr go to files (a full pipe would block it)."""
        log_dir.mkdir(parents=True, exist_ok=True)
        with (
            (log_dir / "stdout.log").open("wb") as out,
            (log_dir / "stderr.log").open("wb") as err,
        ):
            proc = subprocess.Popen(
                [*driftline_argv(), *args],
                env=self.env(env),
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )
        self._started.append(proc)
        return proc

    def kill_leftovers(self) -> None:
        for proc in self._started:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)


@pytest.fixture
def driftline(kafka_bootstrap: str, tmp_path: Path) -> Iterator[DriftlineCLI]:
    """Run the ``driftline`` CLI against the test broker (``.run`` or ``.start``)."""
    cli = DriftlineCLI(kafka_bootstrap, workdir=tmp_path)
    try:
        yield cli
    finally:
        cli.kill_leftovers()


@pytest.fixture
def stream_env(
    topic_env: dict[str, str], unique_prefix: str, free_port: int, tmp_path: Path
) -> dict[str, str]:
    """A worker's settings for this test: its topics and app id, its own state directory
    and web port, and the stream scenario's window settings."""
    from tests.integration.stream_scenario import STREAM_ENV

    return {
        **topic_env,
        **STREAM_ENV,
        "DRIFTLINE_APP_ID": unique_prefix,
        "DRIFTLINE_DATA_DIR": str(tmp_path / "state"),
        "DRIFTLINE_WEB_PORT": str(free_port),
    }
