"""Driftline settings: one place, read from ``DRIFTLINE_*`` environment variables.

Built once at the edge (the CLI) and passed down as a typed object; nothing below
the CLI reads the environment itself.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """All runtime options. Each field maps to ``DRIFTLINE_<FIELD NAME IN CAPITALS>``."""

    model_config = SettingsConfigDict(env_prefix="DRIFTLINE_", extra="ignore")

    kafka_bootstrap: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers, comma separated host:port."
    )

    app_id: str = Field("driftline", description="Faust app id = consumer group id.")
    partitions: int = Field(
        4, ge=1, description="Partitions for Driftline's topics (input and internal)."
    )
    replication_factor: int = Field(1, ge=1, description="Replication factor for new topics.")

    topic_predictions: str = Field("predictions", description="Input topic of prediction events.")
    topic_baselines: str = Field("driftline-baselines", description="Compacted, key = model_id.")
    topic_windows: str = Field("driftline-windows", description="Every closed window's result.")
    topic_alerts: str = Field("driftline-alerts", description="Drift events.")
    topic_deadletter: str = Field("driftline-deadletter", description="Rejected input.")
    topic_partials: str = Field("driftline-partials", description="Internal partial histograms.")

    window_seconds: int = Field(300, ge=1, description="Tumbling window size, seconds.")
    allowed_lateness_seconds: int = Field(60, ge=0, description="Allowed lateness, seconds.")
    idle_seconds: int = Field(
        30, ge=1, description="A partition idle this long advances by wall clock (live mode)."
    )

    drift_config: Path | None = Field(
        None, description="drift.toml with decision thresholds (defaults when unset)."
    )

    web_host: str = Field("127.0.0.1", description="Bind address of the worker's web server.")
    web_port: int = Field(6066, ge=1, le=65535, description="Port of /health, /ready, /metrics.")
    data_dir: Path = Field(Path("data"), description="Worker state directory (tables).")
    store: str = Field("rocksdb://", description="Faust table store URL (rocksdb:// or memory://).")
    log_level: str = Field("info", description="Worker log level.")

    def broker_url(self) -> str:
        """Faust broker URL list, e.g. ``kafka://127.0.0.1:9092``."""
        return ";".join(f"kafka://{hp.strip()}" for hp in self.kafka_bootstrap.split(","))

    def topic_stage1_state(self) -> str:
        """Stage 1's compacted snapshot topic of this app id (partition p = source p)."""
        return f"{self.app_id}-stage1-state"

    def stage1_group(self) -> str:
        """Consumer group of stage 1 (the input topic); Faust's own group is the app id."""
        return f"{self.app_id}-stage1"

    def topic_names(self) -> list[str]:
        return [
            self.topic_predictions,
            self.topic_baselines,
            self.topic_windows,
            self.topic_alerts,
            self.topic_deadletter,
            self.topic_partials,
            self.topic_stage1_state(),
        ]


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, with explicit overrides (from CLI flags) on top."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
