"""A throwaway Kafka broker with security on, for the secured-cluster tests and the bench.

One KRaft node (the jars ``make kafka-fetch`` put in ``.kafka/libs-<version>``) with four
listeners on free 127.0.0.1 ports:

- SECURE, SASL_SSL with SCRAM-SHA-512: the users in ``USERS`` are created when the storage
  is formatted (``--add-scram``), so they exist before the broker takes a connection;
- MTLS, SSL with ``ssl.client.auth=required``: a client certificate's CN is its user name
  (``ssl.principal.mapping.rules``), so CN=worker is the same ``User:worker`` as over SCRAM;
- INTERNAL, PLAINTEXT: inter-broker traffic, readiness probes and the bench's plaintext run;
- CONTROLLER, PLAINTEXT: the KRaft controller.

With ``authorizer=True`` the StandardAuthorizer is on; ``User:admin`` and ``User:ANONYMOUS``
(the two loopback PLAINTEXT listeners, which only the broker and the test harness use) are
super users; everyone else gets only the ACLs a test grants.

The CA, the broker's certificate (SAN 127.0.0.1, so host names are checked) and client
certificates are made here with ``cryptography``, as PEM files; the broker reads PEM key
and trust stores (``ssl.keystore.type=PEM``). A second CA signs a "rogue" client
certificate that the broker must refuse.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import ipaddress
import os
import re
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from app.permissions import Grant

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRAM = "SCRAM-SHA-512"
# SCRAM users made at format time: name -> password.
USERS = {
    "admin": "admin-secret-7f3a",
    "worker": "worker-secret-91c2",
    "publisher": "publisher-secret-5be8",
}
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0


def kafka_libs() -> Path:
    """The broker jars: $KAFKA_LIBS, else .kafka/libs-<the version deploy/kafka/kafka.sh pins>."""
    if os.environ.get("KAFKA_LIBS"):
        return Path(os.environ["KAFKA_LIBS"])
    script = (REPO_ROOT / "deploy" / "kafka" / "kafka.sh").read_text()
    match = re.search(r"^KAFKA_VERSION=(\S+)", script, re.MULTILINE)
    if match is None:
        raise RuntimeError("deploy/kafka/kafka.sh has no KAFKA_VERSION= line")
    return REPO_ROOT / ".kafka" / f"libs-{match.group(1)}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# ---------------------------------------------------------------------------------------------
# Certificates


@dataclass(frozen=True)
class Pki:
    """PEM files: the CA, the broker's key store, client certificates and keys."""

    ca: Path
    broker_keystore: Path  # the broker's certificate chain and its PKCS#8 key, one PEM file
    worker_cert: Path
    worker_key: Path
    rogue_cert: Path  # CN=worker, but signed by a CA the broker does not trust
    rogue_key: Path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _ca(cn: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = _key()
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _leaf(
    cn: str,
    ca: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
    *,
    server: bool,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = _key()
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(ca[1].subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                if server
                else [ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
    return key, builder.sign(ca[0], hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _pkcs8(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def make_pki(folder: Path) -> Pki:
    folder.mkdir(parents=True, exist_ok=True)
    ca = _ca("driftline-test-ca")
    rogue_ca = _ca("rogue-ca")
    broker = _leaf("broker", ca, server=True)
    worker = _leaf("worker", ca, server=False)
    rogue = _leaf("worker", rogue_ca, server=False)
    files = {
        "ca.pem": _pem(ca[1]),
        "broker.pem": _pem(broker[1]) + _pem(ca[1]) + _pkcs8(broker[0]),
        "worker.crt": _pem(worker[1]),
        "worker.key": _pkcs8(worker[0]),
        "rogue.crt": _pem(rogue[1]),
        "rogue.key": _pkcs8(rogue[0]),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
        (folder / name).chmod(0o600)
    return Pki(
        ca=folder / "ca.pem",
        broker_keystore=folder / "broker.pem",
        worker_cert=folder / "worker.crt",
        worker_key=folder / "worker.key",
        rogue_cert=folder / "rogue.crt",
        rogue_key=folder / "rogue.key",
    )


# ---------------------------------------------------------------------------------------------
# The broker


@dataclass
class SecureBroker:
    """A running secured broker (``start``), stopped by its PID (``stop``)."""

    folder: Path
    authorizer: bool = True
    pki: Pki = field(init=False)
    secure_port: int = field(init=False)  # SASL_SSL, SCRAM-SHA-512
    mtls_port: int = field(init=False)  # SSL, client certificate required
    plain_port: int = field(init=False)  # PLAINTEXT (internal; a super user)
    controller_port: int = field(init=False)
    proc: subprocess.Popen[bytes] | None = field(init=False, default=None)

    @property
    def secure_bootstrap(self) -> str:
        return f"127.0.0.1:{self.secure_port}"

    @property
    def mtls_bootstrap(self) -> str:
        return f"127.0.0.1:{self.mtls_port}"

    @property
    def plain_bootstrap(self) -> str:
        return f"127.0.0.1:{self.plain_port}"

    @property
    def log(self) -> Path:
        return self.folder / "broker.log"

    def sasl_env(self, user: str) -> dict[str, str]:
        """DRIFTLINE_* settings of a client that connects as ``user`` over SCRAM and TLS;
        the password through a file, as a deployment would mount it."""
        secret = self.folder / f"{user}.password"
        secret.write_text(USERS[user] + "\n")
        secret.chmod(0o600)
        return {
            "DRIFTLINE_KAFKA_BOOTSTRAP": self.secure_bootstrap,
            "DRIFTLINE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "DRIFTLINE_KAFKA_SASL_MECHANISM": SCRAM,
            "DRIFTLINE_KAFKA_SASL_USERNAME": user,
            "DRIFTLINE_KAFKA_SASL_PASSWORD_FILE": str(secret),
            "DRIFTLINE_KAFKA_SSL_CA_FILE": str(self.pki.ca),
        }

    def mtls_env(self, *, rogue: bool = False) -> dict[str, str]:
        """DRIFTLINE_* settings of the worker's certificate client (mTLS)."""
        return {
            "DRIFTLINE_KAFKA_BOOTSTRAP": self.mtls_bootstrap,
            "DRIFTLINE_KAFKA_SECURITY_PROTOCOL": "SSL",
            "DRIFTLINE_KAFKA_SSL_CA_FILE": str(self.pki.ca),
            "DRIFTLINE_KAFKA_SSL_CERT_FILE": str(
                self.pki.rogue_cert if rogue else self.pki.worker_cert
            ),
            "DRIFTLINE_KAFKA_SSL_KEY_FILE": str(
                self.pki.rogue_key if rogue else self.pki.worker_key
            ),
        }

    def _properties(self, data: Path) -> str:
        ssl_common = {
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(self.pki.broker_keystore),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(self.pki.ca),
        }
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": ",".join(
                [
                    f"SECURE://127.0.0.1:{self.secure_port}",
                    f"MTLS://127.0.0.1:{self.mtls_port}",
                    f"INTERNAL://127.0.0.1:{self.plain_port}",
                    f"CONTROLLER://127.0.0.1:{self.controller_port}",
                ]
            ),
            "advertised.listeners": (
                f"SECURE://127.0.0.1:{self.secure_port},MTLS://127.0.0.1:{self.mtls_port},"
                f"INTERNAL://127.0.0.1:{self.plain_port}"
            ),
            "listener.security.protocol.map": (
                "SECURE:SASL_SSL,MTLS:SSL,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT"
            ),
            "inter.broker.listener.name": "INTERNAL",
            "controller.listener.names": "CONTROLLER",
            **{f"listener.name.secure.{k}": v for k, v in ssl_common.items()},
            **{f"listener.name.mtls.{k}": v for k, v in ssl_common.items()},
            "listener.name.secure.sasl.enabled.mechanisms": SCRAM,
            "listener.name.secure.scram-sha-512.sasl.jaas.config": (
                "org.apache.kafka.common.security.scram.ScramLoginModule required;"
            ),
            "listener.name.mtls.ssl.client.auth": "required",
            # CN=worker,... -> User:worker, the same identity as the SCRAM user.
            "ssl.principal.mapping.rules": "RULE:^CN=([a-zA-Z0-9._-]+).*$/$1/,DEFAULT",
            "log.dirs": str(data),
            "num.partitions": "1",
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "1",
            "group.initial.rebalance.delay.ms": "0",
            "num.network.threads": "2",
            "num.io.threads": "2",
        }
        if self.authorizer:
            props["authorizer.class.name"] = (
                "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
            )
            props["super.users"] = "User:admin;User:ANONYMOUS"
        return "".join(f"{k}={v}\n" for k, v in props.items())

    def start(self) -> None:
        libs = kafka_libs()
        if not any(libs.glob("kafka_2.13-*.jar")):
            raise RuntimeError(
                f"no Kafka jars in {libs}: run `make kafka-fetch` (or set KAFKA_LIBS)"
            )
        self.folder.mkdir(parents=True, exist_ok=True)
        self.pki = make_pki(self.folder / "pki")
        self.secure_port, self.mtls_port, self.plain_port, self.controller_port = (
            free_port() for _ in range(4)
        )
        data = self.folder / "data"
        conf = self.folder / "server.properties"
        conf.write_text(self._properties(data))
        log4j = f"-Dlog4j.configuration=file:{REPO_ROOT / 'deploy' / 'kafka' / 'log4j.properties'}"
        cluster_id = _cluster_id()
        scram = [
            arg
            for name, password in USERS.items()
            for arg in ("--add-scram", f"{SCRAM}=[name={name},password={password}]")
        ]
        with self.log.open("wb") as out:
            formatted = subprocess.run(
                ["java", "-Xmx256m", log4j, "-cp", f"{libs}/*", "kafka.tools.StorageTool",
                 "format", "-t", cluster_id, "-c", str(conf), *scram],
                stdout=out, stderr=subprocess.STDOUT, timeout=120, check=False,
            )  # fmt: skip
        if formatted.returncode != 0:
            raise RuntimeError(f"formatting the secured broker failed; see {self.log}")
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                ["java", "-Xms256m", "-Xmx768m", "-server", "-XX:+UseG1GC",
                 "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true", log4j,
                 f"-Dkafka.logs.dir={self.folder}", "-cp", f"{libs}/*", "kafka.Kafka", str(conf)],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        try:
            asyncio.run(self._wait_ready())
        except BaseException:
            self.stop()
            raise

    async def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"the secured broker exited early; see {self.log}")
            admin = AIOKafkaAdminClient(
                bootstrap_servers=self.plain_bootstrap, request_timeout_ms=5000
            )
            try:
                await admin.start()
                await admin.list_topics()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the secured broker did not answer within {START_TIMEOUT_S}s; "
                        f"see {self.log}"
                    ) from None
                await asyncio.sleep(0.5)
            finally:
                await admin.close()

    def stop(self) -> None:
        """SIGTERM our JVM (by its PID), SIGKILL it if it does not stop in time."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


# ---------------------------------------------------------------------------------------------
# ACLs (aiokafka 0.14's admin client has no create_acls; its protocol layer has the request)

_RESOURCE_TYPE = {"topic": 2, "group": 3}
_OPERATION = {"READ": 3, "WRITE": 4, "CREATE": 5, "DESCRIBE": 8, "DESCRIBE_CONFIGS": 10}
_PATTERN_LITERAL = 3
_ALLOW = 3


async def grant(bootstrap: str, grants: list[Grant], principals: dict[str, str]) -> None:
    """Create one ALLOW ACL per grant (as a super user, over ``bootstrap``)."""
    from aiokafka.protocol.admin import CreateAclsRequest

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        for g in grants:
            request = CreateAclsRequest(
                _RESOURCE_TYPE[g.resource_type],
                g.name,
                _PATTERN_LITERAL,
                principals[g.role],
                "*",
                _OPERATION[g.operation],
                _ALLOW,
            )
            response = await admin._send_request(request)
            errors = [(c, m) for c, m in response.creation_responses if c != 0]
            if errors:
                raise RuntimeError(f"creating ACL {g} failed: {errors}")
    finally:
        await admin.close()


def _cluster_id() -> str:
    """A random id in `kafka-storage random-uuid`'s form, never starting with "-" (as
    Kafka's Uuid.randomUuid): the storage tool's parser reads such an id as an option."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id
