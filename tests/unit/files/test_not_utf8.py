"""A CSV whose header is fine but whose data is not UTF-8: one line naming the file and the
line, for ``baseline build``, ``evaluate`` and ``analyze``; no traceback, no raw bytes."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

from app.baseline.build import BuildOptions, build_baseline
from app.baseline.codec import dump_baseline
from app.errors import InputError
from app.files.readers import iter_batches

REPO = Path(__file__).resolve().parents[3]
HEADER = b"timestamp,amount,country\n"
GOOD = b"2026-01-01T00:00:00Z,1.5,DE\n2026-01-01T00:00:01Z,2.5,FR\n"


def _garbage() -> bytes:
    """What `head -c 3000 /dev/urandom >> file.csv` appends, without a newline in its first
    bytes (so that it is one line, line 4): binary bytes, commas and all."""
    rng = random.Random(5)
    data = bytes(rng.randrange(256) for _ in range(3000))
    return b"\x82" + data.replace(b"\n", b" ")


CASES = [
    # (file content, the line, the byte): a field with a bad byte (the field count is right,
    # Arrow fails converting it) and binary garbage (Arrow fails on the field count first,
    # and used to print a traceback from its invalid-row handler, echoing the row).
    (HEADER + GOOD + b"2026-01-01T00:00:02Z,3,F\xff\xfeR\n", 4, "byte 0xFF at position 25"),
    (HEADER + GOOD + _garbage() + b"\n", 4, "byte 0x82 at position 1"),
    (HEADER + GOOD + b"2026-01-01T00:00:02Z,\xff,3,4\n", 4, "byte 0xFF at position 22"),
]


@pytest.mark.parametrize(("content", "line", "byte"), CASES)
def test_reader_names_the_line_and_byte(
    tmp_path: Path, content: bytes, line: int, byte: str
) -> None:
    p = tmp_path / "a.csv"
    p.write_bytes(content)
    with pytest.raises(InputError) as err:
        list(iter_batches(p))
    assert str(err.value) == (f"{p}, line {line}: not UTF-8 text ({byte}); save the file as UTF-8")
    assert err.value.line == line


def test_a_ragged_row_before_the_bad_bytes_is_reported_first(tmp_path: Path) -> None:
    p = tmp_path / "a.csv"
    p.write_bytes(HEADER + b"2026-01-01T00:00:00Z,1.5\n" + b"2026-01-01T00:00:02Z,\xff,3,4\n")
    with pytest.raises(InputError) as err:
        list(iter_batches(p))
    assert str(err.value) == f"{p}, line 2: expected 3 fields, found 2"


def test_bad_bytes_in_a_quoted_line_break_name_their_physical_line(tmp_path: Path) -> None:
    p = tmp_path / "a.csv"
    p.write_bytes(HEADER + b'2026-01-01T00:00:00Z,1.5,"D\nE\xff"\n')
    with pytest.raises(InputError) as err:
        list(iter_batches(p))
    assert str(err.value) == (
        f"{p}, line 3: not UTF-8 text (byte 0xFF at position 2); save the file as UTF-8"
    )


@pytest.fixture(scope="module")
def baseline_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("utf8")
    train = d / "train.csv"
    train.write_bytes(HEADER + GOOD)
    b = build_baseline(str(train), BuildOptions(model_id="m", exclude=frozenset({"timestamp"})))
    path = d / "baseline.json"
    dump_baseline(b.baseline, path)
    return path


@pytest.mark.parametrize("command", ["baseline build", "evaluate", "analyze"])
def test_cli_prints_one_line(tmp_path: Path, baseline_path: Path, command: str) -> None:
    # A real process: the traceback Arrow used to print went to the process's stderr from
    # an "unraisable" exception, which an in-process runner may not capture. The binary
    # case, the one that printed it; the reader tests above cover the others.
    content, line, byte = CASES[1]
    p = tmp_path / "bad.csv"
    p.write_bytes(content)
    args = {
        "baseline build": ["baseline", "build", "--input", str(p), "--model-id", "m",
                           "--no-progress", "--out", str(tmp_path / "out.json")],
        "evaluate": ["evaluate", "--baseline", str(baseline_path), "--input", str(p)],
        "analyze": ["analyze", "--baseline", str(baseline_path), "--input", str(p),
                    "--no-progress"],
    }[command]  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-m", "app", *args],
        capture_output=True,
        cwd=REPO,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.decode() == (
        f"driftline: error: {p}, line {line}: not UTF-8 text ({byte}); save the file as UTF-8\n"
    )
    assert proc.stdout == b""
    assert not (tmp_path / "out.json").exists()
