"""Security settings: coherent combinations, one-line errors, secrets never echoed, and the
client options every Kafka client and Faust get from them."""

from __future__ import annotations

import ssl
from pathlib import Path

import faust
import pytest

from app.config import load_settings
from app.errors import SettingsError
from app.stream.kafka import KafkaUnreachable, connection_kwargs, faust_broker
from app.stream.security import client_kwargs

SECRET = "s3cr3t-Pa55"


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("DRIFTLINE_KAFKA_"):
            monkeypatch.delenv(name)


def sasl(**extra: object) -> dict[str, object]:
    return {
        "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_mechanism": "SCRAM-SHA-512",
        "kafka_sasl_username": "worker",
        **extra,
    }


def error_of(**overrides: object) -> str:
    with pytest.raises(SettingsError) as err:
        load_settings(**overrides)
    return str(err.value)


def test_plaintext_is_the_default_and_adds_only_the_protocol() -> None:
    settings = load_settings()
    assert connection_kwargs(settings) == {
        "bootstrap_servers": ["127.0.0.1:9092"],
        "security_protocol": "PLAINTEXT",
    }
    assert "broker_credentials" not in faust_broker(settings)


def test_a_sasl_mechanism_without_a_sasl_protocol_is_one_line() -> None:
    assert error_of(kafka_sasl_mechanism="PLAIN") == (
        "DRIFTLINE_KAFKA_SASL_MECHANISM set but DRIFTLINE_KAFKA_SECURITY_PROTOCOL is "
        "PLAINTEXT: SASL needs SASL_SSL (or SASL_PLAINTEXT)"
    )


def test_sasl_without_credentials_names_what_is_missing() -> None:
    assert error_of(kafka_security_protocol="SASL_SSL") == (
        "DRIFTLINE_KAFKA_SECURITY_PROTOCOL is SASL_SSL, which needs "
        "DRIFTLINE_KAFKA_SASL_MECHANISM, DRIFTLINE_KAFKA_SASL_USERNAME, "
        "DRIFTLINE_KAFKA_SASL_PASSWORD or DRIFTLINE_KAFKA_SASL_PASSWORD_FILE"
    )


def test_an_unknown_protocol_lists_the_choices() -> None:
    assert error_of(kafka_security_protocol="TLS") == (
        "--kafka-security-protocol='TLS': expected one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"
    )


def test_a_missing_ca_file_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "ca.pem"
    assert error_of(**sasl(kafka_sasl_password=SECRET, kafka_ssl_ca_file=missing)) == (
        f"DRIFTLINE_KAFKA_SSL_CA_FILE={missing}: no such file"
    )


def test_a_ca_file_that_is_not_pem_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate\n")
    settings = load_settings(**sasl(kafka_sasl_password=SECRET, kafka_ssl_ca_file=bad))
    with pytest.raises(SettingsError) as err:
        client_kwargs(settings)
    assert str(err.value).startswith(
        f"DRIFTLINE_KAFKA_SSL_CA_FILE={bad}: not a usable PEM CA certificate ("
    )


def test_an_unreadable_password_file_is_one_line_without_its_content(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    assert error_of(**sasl(kafka_sasl_password_file=missing)) == (
        f"DRIFTLINE_KAFKA_SASL_PASSWORD_FILE={missing}: cannot read it (No such file or directory)"
    )
    unreadable = tmp_path / "pw"
    unreadable.write_bytes(b"\xff\xfe" + SECRET.encode())
    message = error_of(**sasl(kafka_sasl_password_file=unreadable))
    assert message.endswith("cannot read it (not UTF-8 text)")
    assert SECRET not in message


def test_password_from_env_and_file_together_is_refused(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text(SECRET + "\n")
    message = error_of(**sasl(kafka_sasl_password=SECRET, kafka_sasl_password_file=pw))
    assert message == (
        "set DRIFTLINE_KAFKA_SASL_PASSWORD or DRIFTLINE_KAFKA_SASL_PASSWORD_FILE, not both"
    )


def test_tls_files_with_a_plaintext_protocol_are_refused(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    assert error_of(kafka_ssl_ca_file=ca) == (
        "DRIFTLINE_KAFKA_SSL_CA_FILE set but DRIFTLINE_KAFKA_SECURITY_PROTOCOL is PLAINTEXT: "
        "TLS needs SSL or SASL_SSL"
    )


def test_the_password_file_feeds_every_client_and_faust_with_tls(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text(SECRET + "\n")
    settings = load_settings(**sasl(kafka_sasl_password_file=pw))
    kwargs = connection_kwargs(settings, client_id="c")
    context = kwargs.pop("ssl_context")
    assert isinstance(context, ssl.SSLContext)
    assert context.check_hostname is True
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert kwargs == {
        "bootstrap_servers": ["127.0.0.1:9092"],
        "client_id": "c",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "worker",
        "sasl_plain_password": SECRET,
    }
    credentials = faust_broker(settings)["broker_credentials"]
    assert isinstance(credentials, faust.SASLCredentials)
    assert (credentials.protocol.value, credentials.mechanism.value) == (
        "SASL_SSL",
        "SCRAM-SHA-512",
    )
    assert (credentials.username, credentials.password) == ("worker", SECRET)
    assert isinstance(credentials.ssl_context, ssl.SSLContext)


def test_an_ssl_protocol_gives_faust_ssl_credentials() -> None:
    settings = load_settings(kafka_security_protocol="SSL")
    credentials = faust_broker(settings)["broker_credentials"]
    assert isinstance(credentials, faust.SSLCredentials)
    assert connection_kwargs(settings)["security_protocol"] == "SSL"


def test_the_secret_is_in_no_repr_dump_or_connection_error() -> None:
    settings = load_settings(**sasl(kafka_sasl_password=SECRET))
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings.model_dump())
    assert SECRET not in str(settings.model_dump(mode="json"))
    assert SECRET not in str(KafkaUnreachable(settings, OSError("refused")))
    # A spawned replay process gets the value back, and nothing else changes.
    again = load_settings(**settings.for_subprocess())
    assert again.sasl_password() == SECRET
    assert again.for_subprocess() == settings.for_subprocess()
