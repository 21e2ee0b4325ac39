"""``driftline topics list``, ``tail`` and ``status`` against the real broker, and every
Kafka command's one-line answer when no broker is there."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from app.cli.output import table
from app.contracts.timestamps import format_rfc3339_ms
from app.demo.traffic import write_training_csv
from tests.integration.conftest import REPO_ROOT
from tests.integration.stream_scenario import BASE_MS, MODEL, PREDICTION, scenario_events
from tests.integration.streamkit import TOPIC_POLICIES, produce

if TYPE_CHECKING:
    from tests.integration.conftest import DriftlineCLI

EXAMPLES = REPO_ROOT / "schemas" / "examples"


def _example(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((EXAMPLES / name).read_text())
    return doc


def _ok(result: Any) -> str:
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
    out: str = result.stdout
    return out


async def test_topics_list_before_and_after_create(
    driftline: DriftlineCLI, topic_env: dict[str, str], unique_prefix: str, kafka_bootstrap: str
) -> None:
    env = {**topic_env, "DRIFTLINE_PARTITIONS": "2", "DRIFTLINE_APP_ID": unique_prefix}
    names = [env[k] for k in TOPIC_POLICIES] + [
        f"{unique_prefix}-stage1-state",
        f"{unique_prefix}-closed-windows",
    ]
    policies = [*TOPIC_POLICIES.values(), "compact", "delete"]

    before = json.loads(_ok(driftline.run(["topics", "list", "--json"], env)))
    assert before == [
        {
            "topic": n,
            "exists": False,
            "partitions": None,
            "cleanup_policy": None,
            "messages": None,
            "offsets": [],
        }
        for n in names
    ]

    # Listing created nothing (a metadata request for a missing topic would, on a broker
    # with auto.create.topics.enable): create makes every topic, with its policy.
    created = _ok(driftline.run(["topics", "create"], env)).splitlines()
    assert [line.split()[:2] for line in created] == [["created", n] for n in names]
    windows = env["DRIFTLINE_TOPIC_WINDOWS"]
    await produce(kafka_bootstrap, windows, [b"{}"] * 3, partitions=[1, 1, 0])

    after = json.loads(_ok(driftline.run(["topics", "list", "--json"], env)))
    ends = {windows: [1, 2]}
    assert after == [
        {
            "topic": n,
            "exists": True,
            "partitions": 2,
            "cleanup_policy": policy,
            "messages": sum(ends.get(n, [0, 0])),
            "offsets": [
                {"partition": p, "beginning": 0, "end": ends.get(n, [0, 0])[p]} for p in (0, 1)
            ],
        }
        for n, policy in zip(names, policies, strict=True)
    ]
    text = _ok(driftline.run(["topics", "list"], env))
    assert text.splitlines()[0].split() == [
        "topic", "exists", "partitions", "cleanup.policy", "messages"
    ]  # fmt: skip
    assert [line.split() for line in text.splitlines()[1:]] == [
        [n, "yes", "2", policy, "3" if n == windows else "0"]
        for n, policy in zip(names, policies, strict=True)
    ]


async def test_tail_prints_known_messages_pretty_or_as_json_and_stops_after_n(
    driftline: DriftlineCLI, topic_env: dict[str, str], kafka_bootstrap: str
) -> None:
    env = topic_env
    _ok(driftline.run(["topics", "create"], env))
    results = [_example("window-result.drift.json"), _example("window-result.insufficient.json")]
    results.append({**results[0], "model_id": "third-model"})
    alerts = [_example("drift-event.json"), _example("drift-event.stopped-feature.json")]
    letters = [_example("dead-letter.schema-violation.json")]
    # One partition each, so the order on the topic is the order sent.
    for key, docs in (
        ("DRIFTLINE_TOPIC_WINDOWS", results),
        ("DRIFTLINE_TOPIC_ALERTS", alerts),
        ("DRIFTLINE_TOPIC_DEADLETTER", letters),
    ):
        values = [orjson.dumps(d) for d in docs]
        await produce(kafka_bootstrap, env[key], values, partitions=[2] * len(docs))

    windows = driftline.run(["tail", "windows", "--from-beginning", "-n", "2"], env)
    assert _ok(windows).splitlines() == [
        "fraud-scorer  2026-11-27T07:00:00Z  n=5000  drift  drifted: amount, is_new_customer",
        "fraud-scorer  2026-11-27T07:05:00Z  n=12  insufficient_data (partial)  drifted: -",
    ]
    as_json = driftline.run(["tail", "windows", "--from-beginning", "-n", "3", "--json"], env)
    assert [json.loads(line) for line in _ok(as_json).splitlines()] == results

    alert_lines = driftline.run(["tail", "alerts", "--from-beginning", "--timeout", "3"], env)
    assert _ok(alert_lines).splitlines() == [
        "fraud-scorer  2026-11-27T07:00:00Z..2026-11-27T07:05:00Z  severity=low  "
        "amount: distribution shifted, PSI 0.53 > 0.032; median 75.5 -> 120; 5.0% of values "
        "outside the training range [0.5, 9,800] (5.0% above)",
        "fraud-scorer  2026-11-27T07:00:00Z..2026-11-27T07:05:00Z  severity=low  "
        "amount: distribution shifted, PSI 0.54 > 0.032; median 75.5 -> 123; 5.1% of values "
        "outside the training range [0.5, 9,800] (5.1% above) | is_new_customer: no usable "
        "value in any event (null rate 0% -> 100%)",
    ]
    letter_lines = driftline.run(["tail", "deadletter", "--from-beginning", "-n", "1"], env)
    assert _ok(letter_lines) == (
        "schema_violation  predictions[0]@88  $.timestamp: expected RFC 3339 text "
        "(e.g. 2026-11-27T07:00:01.250Z or 2026-11-27T08:00:01+01:00) or epoch milliseconds "
        '(integer >= 0), got string "27/11/2026 07:00"\n'
    )

    # From the end by default: what is already there is not printed.
    started = time.monotonic()
    from_end = driftline.run(["tail", "windows", "--timeout", "2"], env)
    assert _ok(from_end) == ""
    assert time.monotonic() - started >= 2


def _status(driftline: DriftlineCLI, env: dict[str, str]) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(_ok(driftline.run(["status", "--json"], env)))
    return doc


async def test_status_shows_the_worker_its_partitions_zero_lag_and_the_baseline(
    driftline: DriftlineCLI, stream_env: dict[str, str], kafka_bootstrap: str, tmp_path: Path
) -> None:
    env = stream_env
    app_id = env["DRIFTLINE_APP_ID"]
    predictions = env["DRIFTLINE_TOPIC_PREDICTIONS"]
    _ok(driftline.run(["topics", "create"], env))
    baseline_path = tmp_path / "baseline.json"
    train = write_training_csv(tmp_path / "train.csv", 2000)
    built = driftline.run(
        [
            "baseline", "build", "--input", str(train), "--model-id", MODEL,
            "--prediction-column", PREDICTION, "--out", str(baseline_path), "--no-progress",
        ],
        env,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    effective = format_rfc3339_ms(BASE_MS)
    published = driftline.run(
        ["baseline", "publish", str(baseline_path), "--effective-from", effective], env
    )
    assert published.returncode == 0, published.stderr
    baseline = json.loads(baseline_path.read_text())

    values = scenario_events(windows=1, per_window=100)
    await produce(kafka_bootstrap, predictions, values, partitions=[i % 4 for i in range(100)])

    idle = _status(driftline, env)  # before any worker: no members, nothing committed
    assert [(g["group"], g["members"]) for g in idle["groups"]] == [
        (app_id, []),
        (f"{app_id}-stage1", []),
    ]
    assert [(p["committed"], p["lag"]) for p in idle["lag"]["partitions"]] == [(None, 25)] * 4

    driftline.start(["worker"], tmp_path / "worker", env)
    deadline = time.monotonic() + 120
    while True:
        status = _status(driftline, env)
        members = [len(g["members"]) for g in status["groups"]]
        if members == [1, 1] and status["lag"]["total"] == 0:
            break
        assert time.monotonic() < deadline, status
        await asyncio.sleep(1)

    stage2, stage1 = status["groups"]
    assert (stage2["group"], stage2["role"], stage2["state"]) == (app_id, "stage 2", "Stable")
    assert stage2["members"][0]["assignment"][env["DRIFTLINE_TOPIC_PARTIALS"]] == [0, 1, 2, 3]
    assert (stage1["group"], stage1["role"], stage1["state"]) == (
        f"{app_id}-stage1", "stage 1", "Stable"
    )  # fmt: skip
    [member] = stage1["members"]
    assert member["client_id"] == f"{app_id}-stage1"
    assert member["assignment"] == {predictions: [0, 1, 2, 3]}
    assert status["lag"] == {
        "topic": predictions,
        "group": f"{app_id}-stage1",
        "total": 0,
        "partitions": [
            {"partition": p, "owner": f"{app_id}-stage1", "committed": 25, "end": 25, "lag": 0}
            for p in range(4)
        ],
    }
    assert status["baselines"] == {
        "topic": env["DRIFTLINE_TOPIC_BASELINES"],
        "rejected": 0,
        "latest": [
            {
                "model_id": MODEL,
                "baseline_id": baseline["baseline_id"],
                "created_at": baseline["created_at"],
                "effective_from": effective,
                "effective_from_ms": BASE_MS,
            }
        ],
    }

    text = _ok(driftline.run(["status"], env))
    lag_rows = [(p, f"{app_id}-stage1", 25, 25, 0) for p in range(4)]
    assert table(("partition", "owner", "committed", "end", "lag"), lag_rows) in text
    bl_rows = [(MODEL, baseline["baseline_id"], baseline["created_at"], effective)]
    assert table(("model", "baseline", "created", "effective from"), bl_rows) in text


@pytest.mark.parametrize(
    "args",
    [
        ["topics", "create", "--timeout", "1"],
        ["topics", "list"],
        ["tail", "alerts"],
        ["status"],
        ["baseline", "publish", str(EXAMPLES / "baseline.fraud.json")],
        ["replay", "--from", "earliest"],
        ["worker"],  # retries the broker for 30 s (create_topics) before it gives up
    ],
    ids=lambda args: "-".join(a for a in args if not a.startswith(("-", "/")))[:30],
)
def test_unreachable_broker_is_one_line_without_noise(
    driftline: DriftlineCLI,
    topic_env: dict[str, str],
    free_port: int,
    tmp_path: Path,
    args: list[str],
) -> None:
    unreachable = f"127.0.0.1:{free_port}"  # nobody listens there
    env = {
        **topic_env,
        "DRIFTLINE_KAFKA_BOOTSTRAP": unreachable,
        "DRIFTLINE_DATA_DIR": str(tmp_path / "state"),
    }
    result = driftline.run(args, env=env, timeout_s=90)

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"driftline: error: cannot reach Kafka at {unreachable} (KafkaConnectionError: "
        f"Unable to bootstrap from [('127.0.0.1', {free_port}, <AddressFamily.AF_INET: 2>)]): "
        "is the broker up? (`make kafka-up`, or set DRIFTLINE_KAFKA_BOOTSTRAP)\n"
    )
