"""How every Kafka client authenticates and encrypts: TLS, mTLS and SASL from Settings.

``client_kwargs`` (aiokafka producer, consumer and admin options) and ``faust_credentials``
(Faust's ``broker_credentials``) are the only places that turn the security settings into
client options; ``app.stream.kafka`` adds them to every client it builds.

``diagnose`` explains a failed connection in one line (wrong password, untrusted or
rejected certificate, a TLS port spoken to in plaintext or the other way round): aiokafka's
bootstrap logs each cause and raises only "Unable to bootstrap", so a second, direct
connection attempt recovers the cause. No message here contains a secret.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import faust
from aiokafka.conn import create_conn
from aiokafka.errors import (
    KafkaError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)
from aiokafka.helpers import create_ssl_context

from app.config import Settings, env_name
from app.errors import DriftlineError, SettingsError

TLS_PROTOCOLS = ("SSL", "SASL_SSL")
SASL_PROTOCOLS = ("SASL_PLAINTEXT", "SASL_SSL")
# How long the diagnosis waits for one connection attempt (a silent port must not hang it).
DIAGNOSE_TIMEOUT_S = 10.0


class KafkaSecurityError(DriftlineError):
    """The broker answered, but this client could not authenticate or agree on TLS."""


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context of SSL and SASL_SSL (None otherwise): trusts the CA file (or the
    system's CAs), checks the broker's host name, and presents the client certificate
    when one is set (mTLS). An unreadable or malformed file is one ``SettingsError``."""
    if settings.kafka_security_protocol not in TLS_PROTOCOLS:
        return None
    field = "kafka_ssl_ca_file"
    try:
        context: ssl.SSLContext = create_ssl_context(cafile=settings.kafka_ssl_ca_file)
        field = "kafka_ssl_cert_file"
        if settings.kafka_ssl_cert_file is not None:
            context.load_cert_chain(
                settings.kafka_ssl_cert_file,
                settings.kafka_ssl_key_file,
                password=settings.ssl_key_password(),
            )
    except (ssl.SSLError, OSError) as err:
        path = getattr(settings, field)
        what = "certificate and key" if field == "kafka_ssl_cert_file" else "CA certificate"
        reason = (
            getattr(err, "reason", None) or getattr(err, "strerror", None) or type(err).__name__
        )
        raise SettingsError(
            f"{env_name(field)}={path}: not a usable PEM {what} ({reason})"
        ) from None
    return context


def client_kwargs(settings: Settings) -> dict[str, Any]:
    """aiokafka options (producer, consumer, admin) for the configured security protocol."""
    protocol = settings.kafka_security_protocol
    kwargs: dict[str, Any] = {"security_protocol": protocol}
    context = ssl_context(settings)
    if context is not None:
        kwargs["ssl_context"] = context
    if protocol in SASL_PROTOCOLS:
        kwargs["sasl_mechanism"] = settings.kafka_sasl_mechanism
        kwargs["sasl_plain_username"] = settings.kafka_sasl_username
        kwargs["sasl_plain_password"] = settings.sasl_password()
    return kwargs


def faust_credentials(settings: Settings) -> faust.SASLCredentials | faust.SSLCredentials | None:
    """Faust's ``broker_credentials`` for the same settings. faust-streaming 0.15.3 turns
    them into its consumers' and producer's aiokafka options (credentials_to_aiokafka_auth):
    SASLCredentials -> SASL_SSL with an ssl_context, SASL_PLAINTEXT without one."""
    protocol = settings.kafka_security_protocol
    context = ssl_context(settings)
    if protocol in SASL_PROTOCOLS:
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=settings.sasl_password(),
            ssl_context=context,
            mechanism=settings.kafka_sasl_mechanism,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


def identity(settings: Settings) -> str:
    """Who this client is, for messages: the SASL user, the certificate file, or nobody."""
    if settings.kafka_security_protocol in SASL_PROTOCOLS:
        return f"user {settings.kafka_sasl_username!r} ({settings.kafka_sasl_mechanism})"
    if settings.kafka_ssl_cert_file is not None:
        return f"the certificate in {settings.kafka_ssl_cert_file}"
    return "an anonymous client"


async def diagnose(settings: Settings, host: str, port: int) -> KafkaSecurityError | None:
    """Connect once to ``host:port`` as the clients would; the one-line reason a connection
    fails for security reasons, or None (unreachable, or no security problem found)."""
    where = f"Kafka at {host}:{port}"
    protocol = settings.kafka_security_protocol
    proto_var = env_name("kafka_security_protocol")
    try:
        conn = await asyncio.wait_for(
            create_conn(host, port, request_timeout_ms=int(DIAGNOSE_TIMEOUT_S * 1000),
                        **client_kwargs(settings)),
            DIAGNOSE_TIMEOUT_S,
        )  # fmt: skip
    except SaslAuthenticationFailed:
        return KafkaSecurityError(
            f"{where} rejected the credentials of {identity(settings)}: check "
            f"{env_name('kafka_sasl_username')} and the password "
            f"({env_name('kafka_sasl_password')} or {env_name('kafka_sasl_password_file')})"
        )
    except UnsupportedSaslMechanismError as err:
        enabled = str(err).rsplit(":", 1)[-1].strip()
        return KafkaSecurityError(
            f"{where} does not offer SASL mechanism {settings.kafka_sasl_mechanism} on this "
            f"listener (it offers {enabled}): set {env_name('kafka_sasl_mechanism')}"
        )
    except ssl.SSLCertVerificationError as err:
        return KafkaSecurityError(
            f"{where}: the broker's certificate is not trusted ({err.verify_message}): set "
            f"{env_name('kafka_ssl_ca_file')} to the CA that signed it"
        )
    except ssl.SSLError as err:
        return _tls_failure(settings, where, err)
    except (TimeoutError, OSError, KafkaError) as err:
        if isinstance(err.__cause__, ssl.SSLError):
            # A TLS alert after the handshake (TLS 1.3 checks the client's certificate
            # then): aiokafka reports "connection closed", caused by the alert.
            return _tls_failure(settings, where, err.__cause__)
        if protocol in TLS_PROTOCOLS:
            return None
        if await _speaks_tls(host, port):
            wanted = "SASL_SSL" if protocol == "SASL_PLAINTEXT" else "SSL or SASL_SSL"
            return KafkaSecurityError(
                f"{where} expects TLS on this port but {proto_var} is {protocol}: "
                f"set it to {wanted} (and {env_name('kafka_ssl_ca_file')} if needed)"
            )
        return None
    conn.close()
    return None


def _tls_failure(settings: Settings, where: str, err: ssl.SSLError) -> KafkaSecurityError:
    reason = (err.reason or str(err)).lower()
    if "certificate" in reason or "unknown_ca" in reason or "unknown ca" in reason:
        if settings.kafka_ssl_cert_file is None:
            return KafkaSecurityError(
                f"{where} requires a client certificate (mTLS; TLS alert: {err.reason}): set "
                f"{env_name('kafka_ssl_cert_file')} and {env_name('kafka_ssl_key_file')}"
            )
        return KafkaSecurityError(
            f"{where} rejected {identity(settings)} (TLS alert: {err.reason}): the broker "
            "does not trust the CA that signed it"
        )
    if "wrong version" in reason or "record layer" in reason or "packet length" in reason:
        return KafkaSecurityError(
            f"{where} does not speak TLS on this port ({err.reason}), but "
            f"{env_name('kafka_security_protocol')} is {settings.kafka_security_protocol}: "
            "use the broker's TLS listener, or PLAINTEXT / SASL_PLAINTEXT"
        )
    return KafkaSecurityError(f"{where}: TLS handshake failed ({err.reason or err})")


async def _speaks_tls(host: str, port: int) -> bool:
    """Whether the port completes a TLS handshake (certificate not checked: only the
    protocol matters here, and nothing is sent after the handshake)."""
    probe = ssl.create_default_context()
    probe.check_hostname = False
    probe.verify_mode = ssl.CERT_NONE
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=probe), DIAGNOSE_TIMEOUT_S
        )
    except (TimeoutError, OSError):
        return False
    writer.close()
    return True
