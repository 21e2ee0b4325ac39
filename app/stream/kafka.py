"""Every Kafka client Driftline makes: one place for how to reach the broker.

``connection_kwargs`` is the only function that turns Settings into connection options
(bootstrap servers, and TLS and SASL from ``app.stream.security``), and the producer,
consumer and admin factories below all go through it; so do Faust's broker URL and
credentials (``faust_broker``). Each caller adds only what is particular to its use
(group, fetch sizes, acks, timeouts).

``started`` is how a client is used: it starts the client, turns "no broker there" into
one ``KafkaUnreachable`` line for the operator (or, when the broker answered but refused
this client, one ``KafkaSecurityError`` line saying why), turns a denied operation into
one ``KafkaNotAuthorized`` line, and always closes the client (an unclosed aiokafka
client prints ``Unclosed AIOKafkaProducer`` noise when it is collected).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    KafkaError,
    TopicAuthorizationFailedError,
    TransactionalIdAuthorizationFailed,
)

from app.config import Settings
from app.errors import DriftlineError
from app.stream import security

# aiokafka logs an ERROR line per failed connection attempt. Without this handler, a
# command with no logging configured would print them through Python's last-resort handler
# before its own one-line message; a worker's configured handlers still receive them.
logging.getLogger("aiokafka").addHandler(logging.NullHandler())

Client = TypeVar("Client", AIOKafkaProducer, AIOKafkaConsumer, AIOKafkaAdminClient)


class KafkaUnreachable(DriftlineError):
    """No broker answered at the configured bootstrap servers."""

    def __init__(self, settings: Settings, cause: BaseException) -> None:
        super().__init__(
            f"cannot reach Kafka at {settings.kafka_bootstrap} ({cause}): is the broker up? "
            "(`make kafka-up`, or set DRIFTLINE_KAFKA_BOOTSTRAP)"
        )


# What the broker says when an operation is denied by its ACLs.
AUTHORIZATION_ERRORS = (
    TopicAuthorizationFailedError,
    GroupAuthorizationFailedError,
    ClusterAuthorizationFailedError,
    TransactionalIdAuthorizationFailed,
)


class KafkaNotAuthorized(DriftlineError):
    """The broker's ACLs deny this client an operation it needs."""

    def __init__(self, settings: Settings, cause: BaseException, what: str = "") -> None:
        # The error's class says what kind of resource was denied (topic, group, cluster).
        denied = what or type(cause).__name__.removesuffix("Error")
        advice = "" if what else '; grant the ACLs in README "Permissions" to this identity'
        super().__init__(f"Kafka denied {security.identity(settings)}: {denied}{advice}")


def bootstrap_servers(settings: Settings) -> list[str]:
    """``host:port`` of each bootstrap server, in the order configured."""
    return [hp.strip() for hp in settings.kafka_bootstrap.split(",") if hp.strip()]


def connection_kwargs(settings: Settings, client_id: str | None = None) -> dict[str, Any]:
    """Options every client needs to reach the broker (and nothing use-specific)."""
    kwargs: dict[str, Any] = {"bootstrap_servers": bootstrap_servers(settings)}
    kwargs.update(security.client_kwargs(settings))
    if client_id is not None:
        kwargs["client_id"] = client_id
    return kwargs


def faust_broker_url(settings: Settings) -> str:
    """Faust's broker URL list (``kafka://host:port;...``) from the same bootstrap servers."""
    return ";".join(f"kafka://{hp}" for hp in bootstrap_servers(settings))


def faust_broker(settings: Settings) -> dict[str, Any]:
    """Faust app settings that reach the broker: the URL and the same security options as
    every other client (``broker_credentials``; absent for PLAINTEXT)."""
    credentials = security.faust_credentials(settings)
    options: dict[str, Any] = {"broker": faust_broker_url(settings)}
    if credentials is not None:
        options["broker_credentials"] = credentials
    return options


# How often a member heartbeats: well inside the shortest session timeout (6 s, the broker's
# default minimum). It is also how late a member learns that the group is rebalancing (a
# worker joined or left), and that another worker took its instance id (see
# app.stream.membership). At 1 s, a worker added to a running one waited up to that second
# for the first to rejoin: with two workers started together on the bench's backlog, one
# folded alone for ~1 s of 3-4 s. At 0.25 s (four small requests a second per group) two
# workers folded 319,000-331,000 events/s from the first event, against 234,000-279,000.
HEARTBEAT_SECONDS = 0.25


def membership(settings: Settings) -> dict[str, Any]:
    """aiokafka consumer options of a group member: static membership (KIP-345) with this
    worker's instance id, and the session timeout a restart must come back within."""
    return {
        "group_instance_id": settings.instance_id,
        "session_timeout_ms": settings.session_timeout_seconds * 1000,
        "heartbeat_interval_ms": int(HEARTBEAT_SECONDS * 1000),
    }


def faust_membership(settings: Settings) -> dict[str, Any]:
    """The same for Faust's consumer (app settings; faust-streaming 0.15.3 passes
    ``consumer_group_instance_id`` to its aiokafka consumer as ``group_instance_id``).

    The canonical URL is named after the instance id, not the web port: Faust's assignor
    writes it into each member's assignment and asserts, on receiving one, that it is the
    worker's own. A static member that rejoins gets its stored assignment back, so with
    the default URL (web host and port) a worker restarted with the same id on another
    port would fail that assertion and never consume. Driftline serves no routed table
    pages (web_router_enabled and web_tables_enabled are off), the URL's other use."""
    return {
        "consumer_group_instance_id": settings.instance_id,
        "canonical_url": f"http://{settings.instance_id}",
        "broker_session_timeout": float(settings.session_timeout_seconds),
        "broker_heartbeat_interval": HEARTBEAT_SECONDS,
    }


def producer(
    settings: Settings,
    *,
    idempotent: bool = True,
    client_id: str | None = None,
    **options: Any,
) -> AIOKafkaProducer:
    """A producer that waits for all in-sync replicas (``acks="all"``); idempotent unless
    told otherwise. ``options``: aiokafka producer options such as max_request_size."""
    return AIOKafkaProducer(
        **connection_kwargs(settings, client_id),
        acks="all",
        enable_idempotence=idempotent,
        **options,
    )


def consumer(
    settings: Settings,
    *topics: str,
    group_id: str | None = None,
    client_id: str | None = None,
    **options: Any,
) -> AIOKafkaConsumer:
    """A consumer that commits only when told to and starts at the earliest offset when it
    has none. Without ``group_id`` it joins no group (assign partitions, or subscribe
    ``topics`` to get all their partitions). ``options``: aiokafka consumer options such as
    max_partition_fetch_bytes or isolation_level."""
    options.setdefault("enable_auto_commit", False)
    options.setdefault("auto_offset_reset", "earliest")
    return AIOKafkaConsumer(
        *topics, **connection_kwargs(settings, client_id), group_id=group_id, **options
    )


def admin(settings: Settings, *, request_timeout_ms: int = 10_000) -> AIOKafkaAdminClient:
    """An admin client (topics, configs, consumer groups)."""
    return AIOKafkaAdminClient(**connection_kwargs(settings), request_timeout_ms=request_timeout_ms)


async def _close(client: AIOKafkaProducer | AIOKafkaConsumer | AIOKafkaAdminClient) -> None:
    if isinstance(client, AIOKafkaAdminClient):
        await client.close()
    else:
        await client.stop()


async def start(
    client: AIOKafkaProducer | AIOKafkaConsumer | AIOKafkaAdminClient,
    settings: Settings,
    retry_s: float = 0.0,
) -> None:
    """Start ``client``, retrying an unreachable broker for ``retry_s`` seconds. On failure
    the client is closed and ``KafkaUnreachable`` raised (for callers that keep a client
    open longer than one block; otherwise use ``started``)."""
    deadline = time.monotonic() + retry_s
    diagnosed = False
    while True:
        try:
            await client.start()
            return
        except AUTHORIZATION_ERRORS as err:
            await _close(client)
            raise KafkaNotAuthorized(settings, err) from None
        except (KafkaConnectionError, KafkaError, OSError) as err:
            # A broker that refuses this client (credentials, certificates, protocol) will
            # refuse it again: that fails at once; only an absent broker is waited for.
            reason: DriftlineError | None = None
            if not diagnosed:
                reason = await _why_not(settings, err)
            diagnosed = True
            if isinstance(reason, security.KafkaSecurityError):
                await _close(client)
                raise reason from None
            if time.monotonic() >= deadline:
                await _close(client)
                if reason is None:  # diagnosed at the first failure: the broker may have changed
                    reason = await _why_not(settings, err)
                raise reason from None
            await asyncio.sleep(0.5)


async def _why_not(settings: Settings, err: BaseException) -> DriftlineError:
    """The one-line reason no connection was made: a security problem when the first
    bootstrap server explains one, else "unreachable"."""
    host, _, port = bootstrap_servers(settings)[0].rpartition(":")
    if port.isdigit():
        found = await security.diagnose(settings, host.strip("[]"), int(port))
        if found is not None:
            return found
    return KafkaUnreachable(settings, err)


@asynccontextmanager
async def started(
    client: Client, settings: Settings, retry_s: float = 0.0
) -> AsyncIterator[Client]:
    """``async with started(consumer(settings), settings) as c:``: started, then closed
    whatever happens; an unreachable broker raises ``KafkaUnreachable``."""
    await start(client, settings, retry_s)
    try:
        yield client
    except AUTHORIZATION_ERRORS as err:
        raise KafkaNotAuthorized(settings, err) from None
    finally:
        await _close(client)
