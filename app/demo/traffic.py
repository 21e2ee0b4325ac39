"""Synthetic traffic that looks like a card-fraud model's: training rows and prediction
events, with an optional drift that starts at a given event time.

Used by ``make demo``, the benchmarks and the integration tests, so it is seeded and
deterministic: the same arguments give the same bytes.
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.contracts.timestamps import format_rfc3339_ms

MERCHANTS = ["grocery", "fuel", "restaurant", "online_retail", "travel", "electronics", "pharmacy"]
MERCHANT_WEIGHTS = [0.30, 0.15, 0.18, 0.20, 0.05, 0.07, 0.05]
COUNTRIES = ["DE", "FR", "NL", "ES", "IT", "US", "GB"]
COUNTRY_WEIGHTS = [0.40, 0.15, 0.10, 0.10, 0.10, 0.10, 0.05]
DRIFTED_COUNTRY_WEIGHTS = [0.25, 0.10, 0.10, 0.10, 0.10, 0.30, 0.05]


@dataclass(frozen=True)
class Drift:
    """What changes once event time reaches ``start_ms``."""

    start_ms: int
    end_ms: int | None = None  # None: the drift lasts
    amount_factor: float = 1.6  # amounts grow: a new merchant mix / inflation
    country_shift: bool = True  # US share 10% -> 30%
    device_null_rate: float = 0.15  # a broken upstream starts sending nulls


def _row(rng: random.Random, drifted: Drift | None) -> dict[str, Any]:
    factor = drifted.amount_factor if drifted else 1.0
    amount = round(math.exp(rng.gauss(3.2, 0.9)) * factor, 2)
    weights = DRIFTED_COUNTRY_WEIGHTS if drifted and drifted.country_shift else COUNTRY_WEIGHTS
    country = rng.choices(COUNTRIES, weights)[0]
    merchant = rng.choices(MERCHANTS, MERCHANT_WEIGHTS)[0]
    age = max(18, min(95, round(rng.gauss(42, 13))))
    hour = int(rng.triangular(0, 24, 15)) % 24
    new_device: bool | None = rng.random() < 0.12
    if drifted and rng.random() < drifted.device_null_rate:
        new_device = None
    distance = round(rng.expovariate(1 / 25.0), 1)
    tx_24h = min(40, int(rng.expovariate(1 / 3.0)))
    score = -6.0 + 0.6 * math.log1p(amount) + 1.2 * bool(new_device) + 0.01 * distance
    score += 0.08 * tx_24h + (0.8 if merchant in ("electronics", "travel") else 0.0)
    fraud_prob = round(1 / (1 + math.exp(-score)), 4)
    return {
        "amount": amount,
        "merchant_category": merchant,
        "country": country,
        "customer_age": age,
        "hour_of_day": hour,
        "is_new_device": new_device,
        "distance_km": distance,
        "tx_count_24h": tx_24h,
        "fraud_probability": fraud_prob,
    }


FEATURES = [
    "amount",
    "merchant_category",
    "country",
    "customer_age",
    "hour_of_day",
    "is_new_device",
    "distance_km",
    "tx_count_24h",
]


def write_training_csv(path: Path, rows: int, seed: int = 7) -> Path:
    """Training data with the prediction as column ``fraud_probability``."""
    rng = random.Random(seed)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[*FEATURES, "fraud_probability"])
        writer.writeheader()
        for _ in range(rows):
            row = _row(rng, None)
            if row["is_new_device"] is None:
                row["is_new_device"] = ""
            writer.writerow(row)
    return path


def events(
    model_id: str,
    start_ms: int,
    count: int,
    spacing_ms: float,
    *,
    seed: int = 11,
    drift: Drift | None = None,
    model_version: str | None = "1.0.0",
) -> Iterator[dict[str, Any]]:
    """Prediction events, ``spacing_ms`` apart in event time, from ``start_ms``."""
    rng = random.Random(seed)
    for i in range(count):
        ts = start_ms + int(i * spacing_ms)
        active = (
            drift is not None
            and ts >= drift.start_ms
            and (drift.end_ms is None or ts < drift.end_ms)
        )
        row = _row(rng, drift if active else None)
        prob = row.pop("fraud_probability")
        event: dict[str, Any] = {
            "model_id": model_id,
            "event_id": f"{model_id}-{seed}-{i}",
            "timestamp": ts if i % 2 else format_rfc3339_ms(ts),  # producers send both forms
            "features": row,
            "prediction": prob,
        }
        if model_version is not None:
            event["model_version"] = model_version
        yield event
