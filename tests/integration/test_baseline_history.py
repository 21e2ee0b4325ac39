"""Baseline history on the real broker: every published version keeps its own key, live and
replay use the version in force for each window, and neither bad messages nor compaction
under a model's id erase another version (with compaction actually run by the broker)."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Sequence
from pathlib import Path

import orjson
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import ConsumerRecord

from app.baseline.topic_key import encode_key
from app.config import Settings
from app.stream.replay import load_registry
from tests.integration.conftest import DriftlineCLI
from tests.integration.stream_scenario import (
    MODEL,
    PER_WINDOW,
    PREDICTION,
    WINDOWS,
    comparable,
    scenario_events,
    window_start,
)
from tests.integration.streamkit import docs, produce, read_topic, wait_http
from tests.integration.test_replay import replay_results
from tests.unit.stream.test_baseline_feed import forged, v1, v2, value


def build(driftline: DriftlineCLI, env: dict[str, str], tmp_path: Path, bins: int) -> Path:
    out = tmp_path / f"baseline-{bins}.json"
    built = driftline.run(
        ["baseline", "build", "--input", str(tmp_path / "train.csv"), "--model-id", MODEL,
         "--prediction-column", PREDICTION, "--bins", str(bins), "--out", str(out),
         "--no-progress"],
        env,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    return out


def publish(driftline: DriftlineCLI, env: dict[str, str], path: Path, effective_ms: int) -> str:
    done = driftline.run(
        ["baseline", "publish", str(path), "--effective-from", str(effective_ms)], env
    )
    assert done.returncode == 0, done.stderr
    return str(orjson.loads(path.read_bytes())["baseline_id"])


async def test_live_and_replay_use_the_version_in_force_and_bad_messages_erase_none(
    driftline: DriftlineCLI, stream_env: dict[str, str], kafka_bootstrap: str, tmp_path: Path
) -> None:
    from app.demo.traffic import write_training_csv

    env = stream_env
    assert driftline.run(["topics", "create"], env).returncode == 0
    write_training_csv(tmp_path / "train.csv", 20_000)
    first = publish(driftline, env, build(driftline, env, tmp_path, 20), window_start(0))
    second = publish(driftline, env, build(driftline, env, tmp_path, 5), window_start(2))
    assert first != second
    topic = env["DRIFTLINE_TOPIC_BASELINES"]
    keys = [r.key for r in await read_topic(kafka_bootstrap, topic)]
    assert sorted(keys) == sorted(
        [encode_key(MODEL, first, window_start(0)), encode_key(MODEL, second, window_start(2))]
    )

    values = scenario_events()
    stamps = [int(orjson.loads(v)["event_id"].rsplit("-", 1)[1]) for v in values]
    await produce(
        kafka_bootstrap,
        env["DRIFTLINE_TOPIC_PREDICTIONS"],
        values,
        partitions=[i % 4 for i in range(len(values))],
        timestamps_ms=[window_start(0) + i * (60_000 // PER_WINDOW) for i in stamps],
    )
    worker = driftline.start(["worker"], tmp_path / "worker", env)
    wait_http(f"http://127.0.0.1:{env['DRIFTLINE_WEB_PORT']}/ready", timeout_s=90)
    live_docs = docs(
        await read_topic(
            kafka_bootstrap, env["DRIFTLINE_TOPIC_WINDOWS"], until=lambda r: len(r) >= WINDOWS
        )
    )
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=60) == 0
    used = {d["window"]["start_ms"]: d["baseline_id"] for d in live_docs}
    assert used == {window_start(i): first if i < 2 else second for i in range(WINDOWS)}
    live = comparable(live_docs)

    # A range in the first version's time (it ends inside window 2, which replay flags
    # partial): its complete windows use that version, byte for byte as live did.
    early, _, stderr = await replay_results(
        driftline, env, kafka_bootstrap,
        ["--from", "earliest", "--to", str(window_start(2) + 30_000)], ".early",
    )  # fmt: skip
    parsed = {wid: orjson.loads(b) for wid, b in early.items()}
    complete = {wid: b for wid, b in early.items() if not parsed[wid]["partial"]}
    assert sorted(parsed[w]["window"]["start_ms"] for w in complete) == [
        window_start(0),
        window_start(1),
    ], stderr
    assert {parsed[w]["baseline_id"] for w in complete} == {first}
    assert complete == {wid: live[wid] for wid in complete}

    # Bad messages under the model's id and under a version key of a version never published.
    await produce(
        kafka_bootstrap,
        topic,
        [b"garbage", None, value(forged(), 0)],  # type: ignore[list-item]
        keys=[MODEL.encode(), MODEL.encode(), encode_key(MODEL, "bl-0000000000000000", 0)],
    )
    # A newly started worker's registry (replay reads it the same way) keeps both versions.
    settings = Settings(kafka_bootstrap=kafka_bootstrap, topic_baselines=topic)
    registry = await load_registry(settings)
    assert registry.versions(MODEL) == [(window_start(0), first), (window_start(2), second)]
    again, _, _ = await replay_results(
        driftline, env, kafka_bootstrap, ["--from", "earliest"], ".after-garbage"
    )
    assert again == live
    status = driftline.run(["status", "--json"], env)
    assert status.returncode == 0, status.stderr
    shown = orjson.loads(status.stdout)["baselines"]
    assert shown["rejected"] == 2
    assert [(b["model_id"], b["baseline_id"]) for b in shown["latest"]] == [(MODEL, second)]


def _held(records: list[ConsumerRecord[bytes, bytes]]) -> list[tuple[bytes | None, bytes | None]]:
    return [(r.key, r.value) for r in records]


async def test_versions_survive_the_broker_compacting_the_topic(
    driftline: DriftlineCLI,
    topic_env: dict[str, str],
    kafka_bootstrap: str,
    kafka_admin: AIOKafkaAdminClient,
) -> None:
    """Old-keyed history, ``baseline migrate``, new versions and attacks under the model's
    id, then a real compaction (the positive control: an old-keyed version superseded under
    its own key is gone) after which every version is still registered."""
    env = topic_env
    topic = env["DRIFTLINE_TOPIC_BASELINES"]
    # One partition, every closed segment cleanable at once; the broker's cleaner checks
    # every log.cleaner.backoff.ms (15 s by default).
    await kafka_admin.create_topics(
        [
            NewTopic(
                topic,
                num_partitions=1,
                replication_factor=1,
                topic_configs={
                    "cleanup.policy": "compact",
                    "segment.ms": "100",
                    "min.cleanable.dirty.ratio": "0.01",
                    "max.compaction.lag.ms": "100",
                    "min.compaction.lag.ms": "0",
                    "delete.retention.ms": "100",
                },
            )
        ]
    )
    assert driftline.run(["topics", "create"], env).returncode == 0  # leaves ours as it is
    one, two = v1(), v2()
    other = {**v1(), "model_id": "other-model"}
    from app.baseline.codec import compute_baseline_id

    other["baseline_id"] = compute_baseline_id(other)
    model = str(one["model_id"])

    async def send(records: Sequence[tuple[bytes | None, bytes | None]]) -> None:
        for key, val in records:  # one segment each (segment.ms 100)
            await produce(kafka_bootstrap, topic, [val], keys=[key])  # type: ignore[list-item]
            await asyncio.sleep(0.15)

    # Before the upgrade: keyed by model id; other-model republished its version later.
    legacy = [
        (model.encode(), value(one, 0)),
        (b"other-model", value(other, 0)),
        (b"other-model", value(other, 60_000)),
    ]
    await send(legacy)
    assert _held(await read_topic(kafka_bootstrap, topic)) == legacy  # not compacted yet
    migrated = driftline.run(["baseline", "migrate"], env)
    assert migrated.returncode == 0, migrated.stderr
    assert migrated.stderr == (
        f"{topic}: copied 3 version(s) of 2 model(s) to per-version keys; 0 already had their "
        "own key\n"
    )
    # After it: a new version, then a tombstone and garbage under the model's id.
    await send(
        [
            (encode_key(model, two["baseline_id"], 120_000), value(two, 120_000)),
            (model.encode(), None),
            (model.encode(), b"garbage"),
            (b"filler", b"rolls the last segment"),
        ]
    )
    again = driftline.run(["baseline", "migrate"], env)
    assert again.stderr == (
        f"{topic}: copied 0 version(s) of 0 model(s) to per-version keys; 4 already had their "
        "own key; 2 invalid message(s) left as they are\n"  # the garbage and the filler
    )

    # Wait for the cleaner to supersede both pre-upgrade messages under their old keys. The
    # cleaner may already have run between the two sends (segments roll every 100 ms), removing
    # other-model's first message before the model's tombstone existed, so one of the two gone
    # does not say the other is: wait for both.
    superseded = [(b"other-model", value(other, 0)), (model.encode(), value(one, 0))]
    deadline = time.monotonic() + 90
    while True:
        held = _held(await read_topic(kafka_bootstrap, topic))
        if not any(message in held for message in superseded):
            break
        assert time.monotonic() < deadline, f"no compaction within 90 s: {len(held)} records"
        await asyncio.sleep(2)

    # Compaction ran: under the old keys only the last message survived (the model's own
    # pre-upgrade version is gone, replaced by garbage), under the version keys everything.
    for key, val in [
        (encode_key(model, one["baseline_id"], 0), value(one, 0)),
        (encode_key("other-model", other["baseline_id"], 0), value(other, 0)),
        (encode_key("other-model", other["baseline_id"], 60_000), value(other, 60_000)),
        (encode_key(model, two["baseline_id"], 120_000), value(two, 120_000)),
    ]:
        assert (key, val) in held
    registry = await load_registry(Settings(kafka_bootstrap=kafka_bootstrap, topic_baselines=topic))
    assert registry.versions(model) == [(0, one["baseline_id"]), (120_000, two["baseline_id"])]
    assert registry.versions("other-model") == [
        (0, other["baseline_id"]),
        (60_000, other["baseline_id"]),
    ]
