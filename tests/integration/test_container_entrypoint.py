"""The container image's entrypoint, run on the host the way the container runs it (there
is no Docker engine here): the Dockerfile's ENTRYPOINT + CMD with its ENV, against the real
broker. Only what names a place inside the image is mapped: /opt/driftline/bin (the
image's virtualenv) to this interpreter's, the data directory to a temporary one, and the
web port to a free one; the broker address, app id and topics are this test's own."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from tests.dockerfile import final_stage
from tests.integration.test_worker_cli import (
    STOP_TIMEOUT_S,
    _listening_addresses,
    _stderr_tail,
    _wait_for_health,
)

IMAGE_VENV_BIN = "/opt/driftline/bin"
ALL_INTERFACES = "00000000"  # 0.0.0.0 as /proc/net/tcp writes it


def _container_env(overrides: dict[str, str]) -> dict[str, str]:
    """The Dockerfile's ENV on top of a host environment without DRIFTLINE_* settings."""
    image_env = final_stage().env()
    host = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")}
    venv_bin = str(Path(sys.executable).parent)
    env = {**host, **image_env}
    env["PATH"] = image_env["PATH"].replace(IMAGE_VENV_BIN, venv_bin).replace("$PATH", host["PATH"])
    env.update(overrides)
    return env


def _healthcheck(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    _, command = final_stage().healthcheck()
    executable = shutil.which(command[0], path=env["PATH"])
    assert executable is not None, f"{command[0]} not on {env['PATH']}"
    return subprocess.run(
        [executable, *command[1:]], env=env, capture_output=True, text=True, timeout=30
    )


async def test_the_images_command_and_env_serve_health_on_all_interfaces(
    topic_env: dict[str, str], unique_prefix: str, free_port: int, tmp_path: Path
) -> None:
    image_env = final_stage().env()
    assert image_env["DRIFTLINE_WEB_HOST"] == "0.0.0.0"
    env = _container_env(
        {
            **topic_env,
            "DRIFTLINE_KAFKA_BOOTSTRAP": os.environ.get(
                "DRIFTLINE_KAFKA_BOOTSTRAP", "127.0.0.1:9092"
            ),
            "DRIFTLINE_APP_ID": unique_prefix,
            "DRIFTLINE_DATA_DIR": str(tmp_path / "data"),
            "DRIFTLINE_WEB_PORT": str(free_port),
        }
    )
    entrypoint = final_stage().exec_form("ENTRYPOINT")
    cmd = final_stage().exec_form("CMD")
    executable = shutil.which(entrypoint[0], path=env["PATH"])
    assert executable is not None, f"{entrypoint[0]} not on {env['PATH']}"

    # Before the worker runs, the HEALTHCHECK fails (nothing answers on the port).
    assert _healthcheck(env).returncode != 0

    log_dir = tmp_path / "worker"
    log_dir.mkdir()
    workdir = tmp_path / "workdir"  # stands for the image's WORKDIR
    workdir.mkdir()
    with (log_dir / "stdout.log").open("wb") as out, (log_dir / "stderr.log").open("wb") as err:
        proc = subprocess.Popen(
            [executable, *entrypoint[1:], *cmd],
            env=env,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
    try:
        body = await asyncio.to_thread(_wait_for_health, proc, free_port, log_dir)
        assert body.strip() == "ok"
        # DRIFTLINE_WEB_HOST=0.0.0.0 from the Dockerfile: listening on every interface, so
        # a port mapping and Kubernetes probes reach it (the host default is 127.0.0.1 only).
        assert _listening_addresses(free_port) == {ALL_INTERFACES}
        check = await asyncio.to_thread(_healthcheck, env)
        assert check.returncode == 0, check.stderr
        # The state directory is the one DRIFTLINE_DATA_DIR names, not the working directory.
        assert (tmp_path / "data").is_dir()
        assert list(workdir.iterdir()) == []
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # what `docker stop` sends
        try:
            returncode = await asyncio.to_thread(proc.wait, STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
            raise
    assert returncode == 0, _stderr_tail(log_dir)
    assert "Traceback" not in (log_dir / "stderr.log").read_text(errors="replace")
    assert _healthcheck(env).returncode != 0
