"""``driftline baseline publish`` against the real broker: the exact bytes on the baselines
topic validate against schemas/baseline.schema.json, the effective time is said in RFC 3339
with the window size it came from, and a baseline too large for the topic is one line with
the size, the limits and a way out that works."""

from __future__ import annotations

import random
import re
import time
from pathlib import Path

import orjson
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from app.contracts.decode import parse_rfc3339_ms
from app.contracts.schemas import validate
from app.demo.traffic import write_training_csv
from tests.integration.conftest import DriftlineCLI
from tests.integration.stream_scenario import MODEL, PREDICTION
from tests.integration.streamkit import read_topic

EFFECTIVE = re.compile(
    r"^published (bl-[0-9a-f]{16}) for model (\S+) to (\S+)\[(\d+)\]@(\d+), effective from "
    r"(\S+) \(next-window for 60 s windows, from --window-seconds or "
    r"DRIFTLINE_WINDOW_SECONDS; the workers' must be the same\)\n$"
)


def build(driftline: DriftlineCLI, env: dict[str, str], csv: Path, out: Path, *extra: str) -> None:
    built = driftline.run(
        ["baseline", "build", "--input", str(csv), "--model-id", MODEL, "--out", str(out),
         "--no-progress", *extra],
        env,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr


async def topic_limit(admin: AIOKafkaAdminClient, topic: str) -> int:
    resource = ConfigResource(ConfigResourceType.TOPIC, topic, {"max.message.bytes": None})
    for response in await admin.describe_configs([resource]):
        for _code, _msg, _type, _name, entries in response.resources:
            for entry in entries:
                if entry[0] == "max.message.bytes":
                    return int(entry[1])
    raise AssertionError(f"no max.message.bytes for {topic}")


async def test_published_bytes_validate_and_the_effective_time_is_rfc3339_with_its_window(
    driftline: DriftlineCLI, topic_env: dict[str, str], kafka_bootstrap: str, tmp_path: Path
) -> None:
    env = topic_env
    assert driftline.run(["topics", "create"], env).returncode == 0
    baseline = tmp_path / "baseline.json"
    train = write_training_csv(tmp_path / "train.csv", 2000)
    build(driftline, env, train, baseline, "--prediction-column", PREDICTION)

    before = int(time.time() * 1000)
    published = driftline.run(["baseline", "publish", str(baseline), "--window-seconds", "60"], env)
    after = int(time.time() * 1000)
    assert published.returncode == 0, published.stderr
    match = EFFECTIVE.match(published.stderr)
    assert match, published.stderr
    baseline_id, model, topic, _, _, effective_text = match.groups()
    assert (model, topic) == (MODEL, env["DRIFTLINE_TOPIC_BASELINES"])
    effective = parse_rfc3339_ms(effective_text)
    assert effective is not None and effective % 60_000 == 0
    assert before < effective <= after + 60_000

    [record] = await read_topic(kafka_bootstrap, env["DRIFTLINE_TOPIC_BASELINES"])
    # One key per version (app.baseline.topic_key): no later publication erases this one.
    assert record.key == (
        b'{"model_id":"%s","baseline_id":"%s","effective_from_ms":%d}'
        % (MODEL.encode(), baseline_id.encode(), effective)
    )
    message = orjson.loads(record.value)
    validate("baseline", message)  # the exact bytes the workers read
    assert message["effective_from_ms"] == effective
    assert message["baseline_id"] == baseline_id
    on_file = orjson.loads(baseline.read_bytes())
    assert {k: v for k, v in message.items() if k != "effective_from_ms"} == on_file


async def test_a_baseline_too_large_for_the_topic_is_one_line_and_its_way_out_works(
    driftline: DriftlineCLI,
    topic_env: dict[str, str],
    kafka_bootstrap: str,
    kafka_admin: AIOKafkaAdminClient,
    tmp_path: Path,
) -> None:
    env = topic_env
    assert driftline.run(["topics", "create"], env).returncode == 0
    # 900 numeric columns of 100 bins: about 1.6 MB as a message, over the broker's default
    # 1 MB (and under the decoder's 1,000-feature limit).
    rng = random.Random(7)
    wide = tmp_path / "wide.csv"
    columns = [f"f{i}" for i in range(900)]
    with wide.open("w") as f:
        f.write(",".join(columns) + "\n")
        for _ in range(300):
            f.write(",".join(f"{rng.random():.6f}" for _ in columns) + "\n")
    baseline = tmp_path / "wide.json"
    build(driftline, env, wide, baseline, "--bins", "100", "--ks-cells", "0")
    doc = orjson.loads(baseline.read_bytes())
    # The message: the compact document with a 13-digit effective_from_ms.
    size = len(orjson.dumps({**doc, "effective_from_ms": 1_796_104_800_000}))
    topic = env["DRIFTLINE_TOPIC_BASELINES"]
    # `topics create` allows 16 MiB; a baselines topic created elsewhere has the broker's
    # default (1 MB), as this one now.
    assert await topic_limit(kafka_admin, topic) == 16 * 1024 * 1024
    await kafka_admin.alter_configs(
        [ConfigResource(ConfigResourceType.TOPIC, topic, {"max.message.bytes": "1048588"})]
    )
    limit = await topic_limit(kafka_admin, topic)
    assert size > limit == 1048588

    refused = driftline.run(["baseline", "publish", str(baseline)], env)
    assert refused.returncode == 2
    assert refused.stdout == ""
    [line] = refused.stderr.splitlines()
    assert line == (
        f"driftline: error: baseline {doc['baseline_id']} is {size / 1e6:.1f} MB ({size:,} "
        "bytes), too large to publish: the producer's max_request_size is 16,777,216 bytes, "
        f"topic {topic}'s max.message.bytes is {limit:,} bytes; build a smaller baseline "
        "(fewer features: --exclude or --feature-spec; fewer categories: --top-k; fewer bins: "
        "--bins), or raise the topic's limit: kafka-configs.sh --bootstrap-server "
        f"{kafka_bootstrap} --alter --entity-type topics --entity-name {topic} "
        f"--add-config max.message.bytes={size + 64 * 1024}"
    )
    assert await read_topic(kafka_bootstrap, topic) == []

    # The way out it names, applied as given, lets the same baseline through.
    await kafka_admin.alter_configs(
        [ConfigResource(ConfigResourceType.TOPIC, topic,
                        {"max.message.bytes": str(size + 64 * 1024)})]
    )  # fmt: skip
    published = driftline.run(["baseline", "publish", str(baseline)], env)
    assert published.returncode == 0, published.stderr
    [record] = await read_topic(kafka_bootstrap, topic)
    assert len(record.value) == size
    validate("baseline", orjson.loads(record.value))
