"""Driftline settings: one place, read from ``DRIFTLINE_*`` environment variables.

Built once at the edge (the CLI) and passed down as a typed object; nothing below
the CLI reads the environment itself.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.errors import SettingsError
from app.windows.spec import WindowSpec

ENV_PREFIX = "DRIFTLINE_"

# Kafka's rule for a group.instance.id (the same as for a topic name).
_INSTANCE_ID = re.compile(r"[A-Za-z0-9._-]{1,249}")


class Settings(BaseSettings):
    """All runtime options. Each field maps to ``DRIFTLINE_<FIELD NAME IN CAPITALS>``."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    kafka_bootstrap: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers, comma separated host:port."
    )

    # How every client authenticates and encrypts (see app.stream.kafka.security_kwargs and
    # README "Connecting to a secured cluster"); checked together in _security_is_coherent.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT",
        description="PLAINTEXT, SSL (TLS, optionally mTLS), SASL_PLAINTEXT or SASL_SSL.",
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, description="SASL mechanism (SASL_* protocols): PLAIN, SCRAM-SHA-256, SCRAM-SHA-512."
    )
    kafka_sasl_username: str = Field("", description="SASL user name.")
    kafka_sasl_password: SecretStr | None = Field(
        None, description="SASL password (or use DRIFTLINE_KAFKA_SASL_PASSWORD_FILE)."
    )
    kafka_sasl_password_file: Path | None = Field(
        None,
        description="File holding the SASL password (one line; a trailing newline is ignored).",
    )
    kafka_ssl_ca_file: Path | None = Field(
        None, description="PEM CA certificate(s) to trust; the system's CAs when unset."
    )
    kafka_ssl_cert_file: Path | None = Field(
        None, description="PEM client certificate for mTLS (may also hold the key)."
    )
    kafka_ssl_key_file: Path | None = Field(
        None, description="PEM private key of the client certificate."
    )
    kafka_ssl_key_password_file: Path | None = Field(
        None, description="File holding the password of an encrypted client key."
    )
    # Secrets read from files at start (never a field, so never dumped or echoed).
    _sasl_password_from_file: SecretStr | None = PrivateAttr(None)
    _ssl_key_password: SecretStr | None = PrivateAttr(None)

    app_id: str = Field("driftline", description="Faust app id = consumer group id.")
    partitions: int = Field(
        4, ge=1, description="Partitions for Driftline's topics (input and internal)."
    )
    replication_factor: int = Field(1, ge=1, description="Replication factor for new topics.")

    topic_predictions: str = Field("predictions", description="Input topic of prediction events.")
    topic_baselines: str = Field("driftline-baselines", description="Compacted, key per version.")
    topic_windows: str = Field("driftline-windows", description="Every closed window's result.")
    topic_alerts: str = Field("driftline-alerts", description="Drift events.")
    topic_deadletter: str = Field("driftline-deadletter", description="Rejected input.")
    topic_partials: str = Field("driftline-partials", description="Internal partial histograms.")

    window_seconds: int = Field(300, ge=1, description="Tumbling window size, seconds.")
    allowed_lateness_seconds: int = Field(60, ge=0, description="Allowed lateness, seconds.")
    idle_seconds: int = Field(
        30,
        ge=1,
        description="A model quiet this long on a caught-up partition advances its event time "
        "by the wall time since its last event (live mode; never to the wall clock).",
    )
    max_future_seconds: int = Field(
        300,
        ge=0,
        description="Events dated further ahead of the wall clock when read are dead-lettered "
        "(timestamp_in_future) and move no clock.",
    )

    resolve_after_windows: int = Field(
        3,
        ge=1,
        description="A drift incident is resolved after this many consecutive ok windows of "
        "its model (windows with insufficient data neither count nor break the run).",
    )

    drift_config: Path | None = Field(
        None, description="drift.toml with decision thresholds; built-in defaults when unset."
    )

    web_host: str = Field("127.0.0.1", description="Bind address of the worker's web server.")
    web_port: int = Field(6066, ge=1, le=65535, description="Port of /health, /ready, /metrics.")
    ui_host: str = Field("127.0.0.1", description="Bind address of `driftline ui`.")
    ui_port: int = Field(
        8066, ge=0, le=65535, description="Port of `driftline ui` (0: any free port)."
    )
    instance_id: str = Field(
        "",
        description="This worker's static group membership id (KIP-345): a worker restarted "
        "with the same id gets its partitions back without a rebalance; unique per live "
        "worker; when unset, <host name>-<web port>.",
    )
    session_timeout_seconds: int = Field(
        30,
        ge=6,
        le=300,
        description="How long the group waits for a worker that stopped heartbeating (a "
        "restart must be back within it; a worker gone for good is noticed after it).",
    )
    data_dir: Path = Field(Path("data"), description="Worker state directory (tables).")
    store: str = Field("rocksdb://", description="Faust table store URL (rocksdb:// or memory://).")
    log_level: str = Field("info", description="Worker log level.")
    log_format: str = Field(
        "text", description="Worker log lines: text, or json (one JSON object per line)."
    )
    metrics_feature_statistics: str = Field(
        "ks_pvalue,chi2_pvalue,psi,wasserstein,null_rate",
        description="Window-result statistics exported per model and feature on /metrics, "
        "comma separated, or 'all' (driftline_feature_drifted is always exported).",
    )

    @field_validator("drift_config")
    @classmethod
    def _config_is_a_file(cls, value: Path | None) -> Path | None:
        # Checked here, not when a worker first closes a window: a typo fails at start.
        if value is not None and not value.is_file():
            raise ValueError("expected the path of an existing drift.toml file")
        return value

    @field_validator("data_dir")
    @classmethod
    def _data_dir_is_a_directory(cls, value: Path) -> Path:
        if value.exists() and not value.is_dir():
            raise ValueError("expected a directory (created when missing), not a file")
        return value

    @field_validator("log_format")
    @classmethod
    def _text_or_json(cls, value: str) -> str:
        if value.lower() not in ("text", "json"):
            raise ValueError("expected text or json")
        return value.lower()

    @field_validator("metrics_feature_statistics")
    @classmethod
    def _known_statistics(cls, value: str) -> str:
        from app.stream.feature_families import FAMILY_OF  # data only

        names = [n.strip() for n in value.split(",") if n.strip()]
        if names == ["all"]:
            return "all"
        unknown = [n for n in names if n not in FAMILY_OF]
        if unknown:
            raise ValueError(
                f"unknown statistic {unknown[0]!r}; expected 'all' or some of "
                + ", ".join(FAMILY_OF)
            )
        return ",".join(names)

    def exported_statistics(self) -> frozenset[str]:
        """The window-result statistics /metrics exports per feature."""
        from app.stream.feature_families import FAMILY_OF

        if self.metrics_feature_statistics == "all":
            return frozenset(FAMILY_OF)
        return frozenset(self.metrics_feature_statistics.split(","))

    @field_validator("instance_id")
    @classmethod
    def _instance_id_is_a_kafka_id(cls, value: str) -> str:
        if value and not _INSTANCE_ID.fullmatch(value):
            raise ValueError("expected 1 to 249 characters of A-Z, a-z, 0-9, '.', '_' or '-'")
        return value

    @model_validator(mode="after")
    def _security_is_coherent(self) -> Settings:
        check_security(self)
        if self.kafka_sasl_password_file is not None:
            self._sasl_password_from_file = SecretStr(
                _read_secret(self.kafka_sasl_password_file, "kafka_sasl_password_file")
            )
        if self.kafka_ssl_key_password_file is not None:
            self._ssl_key_password = SecretStr(
                _read_secret(self.kafka_ssl_key_password_file, "kafka_ssl_key_password_file")
            )
        return self

    def sasl_password(self) -> str | None:
        """The SASL password, from the environment or the password file (never both)."""
        secret = self.kafka_sasl_password or self._sasl_password_from_file
        return secret.get_secret_value() if secret is not None else None

    def ssl_key_password(self) -> str | None:
        """The client key's password (from its file), or None for an unencrypted key."""
        return self._ssl_key_password.get_secret_value() if self._ssl_key_password else None

    def for_subprocess(self) -> dict[str, Any]:
        """These settings as plain values for ``Settings(**values)`` in a spawned process.
        ``model_dump`` masks a SecretStr as ``**********``; the child needs the value (it
        travels through the spawn pipe, never a log). Secrets from files are read again."""
        values = self.model_dump(mode="json")
        if self.kafka_sasl_password is not None:
            values["kafka_sasl_password"] = self.kafka_sasl_password.get_secret_value()
        return values

    @model_validator(mode="after")
    def _default_instance_id(self) -> Settings:
        # Host name and web port: two workers on one host cannot share a port, so the
        # default never collides, and a restart on the same host and port keeps it.
        if not self.instance_id:
            self.instance_id = default_instance_id(socket.gethostname(), self.web_port)
        return self

    def window_spec(self) -> WindowSpec:
        """The event-time windows these settings describe (size, allowed lateness, future
        bound)."""
        return WindowSpec.from_seconds(
            self.window_seconds, self.allowed_lateness_seconds, self.max_future_seconds
        )

    def topic_stage1_state(self) -> str:
        """Stage 1's compacted snapshot topic of this app id (partition p = source p)."""
        return f"{self.app_id}-stage1-state"

    def topic_closed_windows(self) -> str:
        """Stage 2 -> stage 3: each stage-2 partition's closed windows and progress, keyed
        by model (app.codecs.lifecycle); one per app id."""
        return f"{self.app_id}-closed-windows"

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
            self.topic_closed_windows(),
        ]


_SASL = ("SASL_PLAINTEXT", "SASL_SSL")
_TLS = ("SSL", "SASL_SSL")


def check_security(settings: Settings) -> None:
    """Raise ValueError (one sentence naming the variables) for security settings that
    cannot work together. Files must exist now: a typo fails at start, not at connect."""
    protocol = settings.kafka_security_protocol
    given = f"{env_name('kafka_security_protocol')} is {protocol}"
    if protocol in _SASL:
        missing = [
            env_name(f)
            for f, v in (
                ("kafka_sasl_mechanism", settings.kafka_sasl_mechanism),
                ("kafka_sasl_username", settings.kafka_sasl_username),
            )
            if not v
        ]
        if settings.kafka_sasl_password is None and settings.kafka_sasl_password_file is None:
            missing.append(
                f"{env_name('kafka_sasl_password')} or {env_name('kafka_sasl_password_file')}"
            )
        if missing:
            raise ValueError(f"{given}, which needs {', '.join(missing)}")
        if settings.kafka_sasl_password is not None and settings.kafka_sasl_password_file:
            raise ValueError(
                f"set {env_name('kafka_sasl_password')} or {env_name('kafka_sasl_password_file')}, "
                "not both"
            )
    else:
        sasl = [
            env_name(f)
            for f in ("kafka_sasl_mechanism", "kafka_sasl_username", "kafka_sasl_password")
            if getattr(settings, f)
        ]
        if settings.kafka_sasl_password_file is not None:
            sasl.append(env_name("kafka_sasl_password_file"))
        if sasl:
            raise ValueError(
                f"{', '.join(sasl)} set but {given}: SASL needs SASL_SSL (or SASL_PLAINTEXT)"
            )
    tls_files = (
        "kafka_ssl_ca_file",
        "kafka_ssl_cert_file",
        "kafka_ssl_key_file",
        "kafka_ssl_key_password_file",
    )
    if protocol not in _TLS:
        set_ = [env_name(f) for f in tls_files if getattr(settings, f) is not None]
        if set_:
            raise ValueError(f"{', '.join(set_)} set but {given}: TLS needs SSL or SASL_SSL")
        return
    for field in tls_files[:3]:
        path = getattr(settings, field)
        if path is not None and not path.is_file():
            raise ValueError(f"{env_name(field)}={path}: no such file")
    if settings.kafka_ssl_cert_file is None:
        for field in ("kafka_ssl_key_file", "kafka_ssl_key_password_file"):
            if getattr(settings, field) is not None:
                raise ValueError(
                    f"{env_name(field)} set without {env_name('kafka_ssl_cert_file')} "
                    "(the client certificate it belongs to)"
                )


def _read_secret(path: Path, field: str) -> str:
    """A secret file's first line. Errors name the file and the reason, never the content."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else "not UTF-8 text"
        raise ValueError(f"{env_name(field)}={path}: cannot read it ({reason})") from None
    secret = text.splitlines()[0] if text else ""
    if not secret:
        raise ValueError(f"{env_name(field)}={path}: the file is empty")
    return secret


def default_instance_id(host: str, web_port: int) -> str:
    """``<host>-<port>``, with any character Kafka refuses in an id replaced by ``-``."""
    host = re.sub(r"[^A-Za-z0-9._-]", "-", host)[:240] or "driftline"
    return f"{host}-{web_port}"


def env_name(field: str) -> str:
    """The environment variable of a settings field: ``window_seconds`` ->
    ``DRIFTLINE_WINDOW_SECONDS``."""
    return f"{ENV_PREFIX}{field.upper()}"


# Options whose name is not the field's name in kebab case (shorter ones, in use already).
_OPTION_NAMES = {
    "kafka_bootstrap": "--bootstrap",
    "topic_predictions": "--topic",
    "drift_config": "--config",
    "ui_host": "--host",
    "ui_port": "--port",
}


def option_name(field: str) -> str:
    """The command-line option that overrides a settings field (see ``app.cli.options``)."""
    return _OPTION_NAMES.get(field, "--" + field.replace("_", "-"))


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, with explicit overrides (from CLI flags) on top.

    A value a setting cannot take raises ``SettingsError``: one line naming each bad
    variable (or option), its value and what it expects, instead of pydantic's report.
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)  # type: ignore[arg-type]
    except ValidationError as err:
        problems = [_problem(dict(e), given) for e in err.errors()]
        raise SettingsError("; ".join(problems)) from None


def _problem(error: dict[str, Any], given: dict[str, object]) -> str:
    loc = error.get("loc") or ()
    field = str(loc[0]) if loc else ""
    if field not in Settings.model_fields:
        # A check across settings (model validator): its message names the variables.
        return str(error.get("msg", "invalid settings")).removeprefix("Value error, ")
    source = option_name(field) if field in given else env_name(field)
    value = error.get("input")
    # Settings that hold secrets (credentials come with the security settings) are not echoed.
    shown = "***" if any(w in field for w in ("password", "secret", "token")) else repr(value)
    if error.get("type") == "value_error":
        expected = str(error.get("ctx", {}).get("error", error.get("msg")))
    else:
        expected = f"expected {_expected(field)}"
    return f"{source}={shown}: {expected}"


def _expected(field: str) -> str:
    """What a field takes, from its type and bounds: ``an integer >= 1``."""
    info = Settings.model_fields[field]
    low = next((m.ge for m in info.metadata if hasattr(m, "ge")), None)
    high = next((m.le for m in info.metadata if hasattr(m, "le")), None)
    if info.annotation is int:
        if low is not None and high is not None:
            return f"an integer from {low} to {high}"
        if low is not None:
            return f"an integer >= {low}"
        return "an integer"
    if info.annotation is str:
        return "text"
    choices = getattr(info.annotation, "__args__", ())
    literals = [a for c in choices for a in getattr(c, "__args__", (c,)) if isinstance(a, str)]
    if literals:
        return "one of " + ", ".join(literals)
    return "a path" if "Path" in str(info.annotation) else str(info.annotation)
