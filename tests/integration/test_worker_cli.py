"""``driftline worker`` as an operator runs it: serves /health on 127.0.0.1, joins its consumer
group, and exits cleanly (code 0, no traceback) on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

if TYPE_CHECKING:
    from tests.integration.conftest import DriftlineCLI

STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
TCP_LISTEN = "0A"  # socket state code in /proc/net/tcp


def _stderr_tail(log_dir: Path, lines: int = 30) -> str:
    text = (log_dir / "stderr.log").read_text(errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def _wait_for_health(proc: subprocess.Popen[bytes], port: int, log_dir: Path) -> str:
    """Body of the first 200 from /health; fails early if the worker exits first."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    url = f"http://127.0.0.1:{port}/health"
    while True:
        if proc.poll() is not None:
            raise AssertionError(
                f"worker exited with {proc.returncode} before /health answered:\n"
                + _stderr_tail(log_dir)
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    body: str = response.read().decode()
                    return body
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(
                f"no 200 from {url} within {STARTUP_TIMEOUT_S}s:\n" + _stderr_tail(log_dir)
            )
        time.sleep(0.25)


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on ``port`` (Linux /proc/net/tcp{,6}).

    Addresses are as the kernel writes them: hex, IPv4 in little-endian byte order
    (127.0.0.1 is 0100007F, 0.0.0.0 is 00000000).
    """
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for row in path.read_text().splitlines()[1:]:
            fields = row.split()
            address, hex_port = fields[1].split(":")
            if fields[3] == TCP_LISTEN and int(hex_port, 16) == port:
                found.add(address)
    return found


async def _group_members(admin: AIOKafkaAdminClient, group_id: str) -> list[dict[str, Any]]:
    [response] = await admin.describe_consumer_groups([group_id])
    [group] = response.to_object()["groups"]
    members: list[dict[str, Any]] = group["members"] if group["error_code"] == 0 else []
    return members


async def _wait_for_member(admin: AIOKafkaAdminClient, group_id: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        try:
            members = await _group_members(admin, group_id)
        except KafkaError as err:
            # On a fresh broker the group coordinator (__consumer_offsets) may still be
            # loading: GroupCoordinatorNotAvailable / CoordinatorLoadInProgress are retriable.
            if not err.retriable:
                raise
            members = []
        if members or time.monotonic() > deadline:
            return members
        await asyncio.sleep(0.5)


async def test_worker_serves_health_on_loopback_joins_group_and_stops_on_sigterm(
    driftline: DriftlineCLI,
    topic_env: dict[str, str],
    unique_prefix: str,
    free_port: int,
    tmp_path: Path,
    kafka_admin: AIOKafkaAdminClient,
) -> None:
    created = driftline.run(["topics", "create"], env=topic_env)
    assert created.returncode == 0, created.stderr

    app_id = f"{unique_prefix}-app"
    log_dir = tmp_path / "worker"
    proc = driftline.start(
        ["worker"],
        log_dir=log_dir,
        env={
            **topic_env,
            "DRIFTLINE_APP_ID": app_id,
            "DRIFTLINE_DATA_DIR": str(tmp_path / "data"),
            "DRIFTLINE_WEB_PORT": str(free_port),
            "DRIFTLINE_STORE": "rocksdb://",
        },
    )

    # Blocking HTTP polling in a thread: the admin client shares this test's event loop.
    body = await asyncio.to_thread(_wait_for_health, proc, free_port, log_dir)
    assert body.strip() == "ok"

    # The worker has no authentication: it must only be reachable from this machine.
    assert _listening_addresses(free_port) == {"0100007F"}

    # Faust's consumer group id is the app id (stage 2); stage 1 has a group of its own.
    for group in (app_id, f"{app_id}-stage1"):
        members = await _wait_for_member(kafka_admin, group)
        assert len(members) == 1, f"no member in group {group!r}:\n" + _stderr_tail(log_dir)

    proc.send_signal(signal.SIGTERM)
    returncode = await asyncio.to_thread(proc.wait, STOP_TIMEOUT_S)
    stderr = (log_dir / "stderr.log").read_text(errors="replace")
    assert returncode == 0, _stderr_tail(log_dir)
    assert "Traceback" not in stderr, stderr


def test_a_taken_web_port_stops_the_worker_in_one_line_naming_port_and_setting(
    driftline: DriftlineCLI, topic_env: dict[str, str], unique_prefix: str, tmp_path: Path
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        log_dir = tmp_path / "worker"
        proc = driftline.start(
            ["worker"],
            log_dir=log_dir,
            env={
                **topic_env,
                "DRIFTLINE_APP_ID": f"{unique_prefix}-app",
                "DRIFTLINE_DATA_DIR": str(tmp_path / "data"),
                "DRIFTLINE_WEB_PORT": str(port),
            },
        )
        returncode = proc.wait(timeout=STARTUP_TIMEOUT_S)
    stderr = (log_dir / "stderr.log").read_text()
    assert returncode == 2
    assert stderr == (
        f"driftline: error: cannot serve the web pages on 127.0.0.1:{port}: Address already "
        "in use; choose another port with DRIFTLINE_WEB_PORT (or --web-port)\n"
    )
    assert (log_dir / "stdout.log").read_text() == ""
