"""Apache Kafka on the lab: one KRaft node (broker and controller in one JVM) on loopback ports.

The `local` add-on provider's Kafka (module_utils/_addons/kafka.py): each add-on gets a SCRAM user
whose ACLs cover only its own topic and group prefix, so the broker authenticates every client
(SASL_PLAINTEXT, SCRAM-SHA-512) and authorizes every request (KRaft's StandardAuthorizer; nothing
is allowed without an ACL, the lab's admin is the only super user).

Listeners: BROKER (clients, SCRAM-SHA-512) and CONTROLLER (the node's own broker -> controller
traffic, SASL/PLAIN: KRaft controllers cannot check SCRAM, whose credentials live in the metadata
log they serve). The admin's SCRAM credential is written into the metadata log when the storage is
formatted, so it works from the first start. Jars: the Maven artifacts of lab/controllers.yml's
`kafka` entry, run with the machine's Java 17. The admin record (admin.json, mode 0600) is the
file the add-on provider and the tests read; `platykus-lab env` exports its path, not the password.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import uuid
from pathlib import Path
from typing import Any

from .controllers import Context, ControllerError, Runner, cache_dir, register

ADMIN_USER = "platykus-lab-admin"
# A second SCRAM user written at format time, never used (random password, no ACL): with the admin
# it keeps the SCRAM map non-empty whatever add-ons are deleted. Kafka 4.1.1 (also 4.1.2, 4.2.1)
# removes a mechanism's whole map when a deletion empties it while a delta is applied, which a
# restart replaying the whole log can hit; the metadata snapshots below are the main guard
# (tests/integration/test_lab_kafka.py restarts the broker after a deletion).
KEEPER_USER = "platykus-lab-keeper"
# Bump when what the storage must hold at format time changes: an older one is formatted anew.
STORAGE_LAYOUT = 2
ADMIN_FILE = "admin.json"
MECHANISM = "SCRAM-SHA-512"
SECURITY_PROTOCOL = "SASL_PLAINTEXT"
NODE_ID = 1
# A small heap and the serial collector: the lab shares two cores with everything else.
JVM_OPTIONS = ("-Xms64m", "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true")
LOG4J = """\
Configuration:
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: STDOUT
    Logger:
      # One line per request or state change is noise in the lab's log.
      - name: kafka.request.logger
        level: WARN
      - name: state.change.logger
        level: WARN
      - name: org.apache.kafka.controller
        level: WARN
"""


def workdir(lab) -> Path:
    return lab.home / "controllers" / "kafka"


def admin_record(lab) -> dict[str, Any] | None:
    """The broker's endpoint and admin credentials, or None before the lab has started Kafka."""
    path = workdir(lab) / ADMIN_FILE
    return json.loads(path.read_text()) if path.exists() else None


def client_config(record: dict[str, Any]) -> dict[str, str]:
    """confluent-kafka settings that connect as the record's user."""
    return {
        "bootstrap.servers": record["bootstrap"],
        "security.protocol": record["security_protocol"],
        "sasl.mechanism": record["mechanism"],
        "sasl.username": record["user"],
        "sasl.password": record["password"],
    }


def env_exports(lab) -> dict[str, str]:
    """What `platykus-lab env` exports: where the broker is and where its admin record is (0600)."""
    record = admin_record(lab)
    if record is None:
        return {}
    return {
        "PLATYKUS_LAB_KAFKA_BOOTSTRAP": record["bootstrap"],
        "PLATYKUS_LAB_KAFKA_SECURITY_PROTOCOL": record["security_protocol"],
        "PLATYKUS_LAB_KAFKA_SASL_MECHANISM": record["mechanism"],
        "PLATYKUS_LAB_KAFKA_ADMIN_FILE": str(workdir(lab) / ADMIN_FILE),
    }


def cluster_id() -> str:
    """A cluster id as `kafka-storage random-uuid` makes it: 16 random bytes, URL-safe base64."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not text.startswith("-"):  # Kafka's Uuid.randomUuid rejects these (they read as flags)
            return text


def server_properties(data_dir: Path, broker_port: int, controller_port: int, password: str) -> str:
    """The node's configuration: loopback listeners, SCRAM for clients, every request authorized."""
    scram = f'org.apache.kafka.common.security.scram.ScramLoginModule required username="{ADMIN_USER}" password="{password}";'
    plain = (
        f'org.apache.kafka.common.security.plain.PlainLoginModule required username="{ADMIN_USER}" '
        f'password="{password}" user_{ADMIN_USER}="{password}";'
    )
    settings = {
        "process.roles": "broker,controller",
        "node.id": NODE_ID,
        "controller.quorum.voters": f"{NODE_ID}@127.0.0.1:{controller_port}",
        "listeners": f"BROKER://127.0.0.1:{broker_port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"BROKER://127.0.0.1:{broker_port}",
        "listener.security.protocol.map": f"BROKER:{SECURITY_PROTOCOL},CONTROLLER:{SECURITY_PROTOCOL}",
        "inter.broker.listener.name": "BROKER",
        "controller.listener.names": "CONTROLLER",
        "sasl.mechanism.inter.broker.protocol": MECHANISM,
        "sasl.mechanism.controller.protocol": "PLAIN",
        "listener.name.broker.sasl.enabled.mechanisms": MECHANISM,
        "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
        f"listener.name.broker.{MECHANISM.lower()}.sasl.jaas.config": scram,
        "listener.name.controller.plain.sasl.jaas.config": plain,
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": f"User:{ADMIN_USER}",
        "allow.everyone.if.no.acl.found": "false",
        # Connected clients re-authenticate every minute (KIP-368): a rotated or deleted credential
        # stops working for live connections too, not only for new ones.
        "connections.max.reauth.ms": 60000,
        # A metadata snapshot every 5 s: a restart then loads the SCRAM users from a snapshot and
        # replays only the tail on top of it. Replaying a whole log that holds a user deletion in one
        # delta can drop every SCRAM credential (the mechanism's map is removed when a removal empties
        # it mid-replay; seen with 4.1.1, 4.1.2, 4.2.1): the admin was refused after a restart.
        "metadata.log.max.snapshot.interval.ms": 5000,
        # Add-ons create their topics (their ACLs allow it on their prefix); nothing appears by typo.
        "auto.create.topics.enable": "false",
        "log.dirs": str(data_dir),
        "num.partitions": 1,
        "offsets.topic.replication.factor": 1,
        "transaction.state.log.replication.factor": 1,
        "transaction.state.log.min.isr": 1,
        "share.coordinator.state.topic.replication.factor": 1,
        "share.coordinator.state.topic.min.isr": 1,
        "group.initial.rebalance.delay.ms": 0,
        # Few threads: one node on a small machine.
        "num.network.threads": 2,
        "num.io.threads": 2,
        "background.threads": 2,
        "num.recovery.threads.per.data.dir": 1,
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


def _write_private(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    partial.chmod(0o600)
    os.replace(partial, path)


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise ControllerError("kafka: java is not on PATH; install Java 17 (scripts/setup.sh: openjdk-17-jre-headless)")
    return java


def _classpath(ctx: Context) -> str:
    return str(cache_dir(ctx.spec) / "lib" / "*")  # the JVM expands the wildcard itself


def _format(ctx: Context, data_dir: Path, password: str) -> str:
    """Format the metadata log with a new cluster id, the admin's and the keeper's SCRAM credentials."""
    shutil.rmtree(data_dir, ignore_errors=True)
    identifier = cluster_id()
    cmd = [
        _java(),
        "-Xmx256m",
        "-cp",
        _classpath(ctx),
        "kafka.tools.StorageTool",
        "format",
        "--cluster-id",
        identifier,
        "--config",
        str(ctx.workdir / "server.properties"),
        "--add-scram",
        f"{MECHANISM}=[name={ADMIN_USER},password={password}]",
        "--add-scram",
        f"{MECHANISM}=[name={KEEPER_USER},password={secrets.token_urlsafe(24)}]",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, LOG_DIR=str(ctx.workdir)))
    if proc.returncode != 0:
        # The command line holds the password: report the tool's output only.
        raise ControllerError(f"kafka: formatting {data_dir} failed: {(proc.stdout + proc.stderr).strip()[-1500:]}")
    return identifier


def _prepare(ctx: Context) -> None:
    """Admin password (kept), configuration for today's ports, storage formatted once."""
    path, data_dir = ctx.workdir / ADMIN_FILE, ctx.workdir / "data"
    record = json.loads(path.read_text()) if path.exists() else {}
    password = record.get("password") or secrets.token_urlsafe(24)
    broker, controller = ctx.own["broker"], ctx.own["controller"]
    _write_private(ctx.workdir / "server.properties", server_properties(data_dir, broker, controller, password))
    (ctx.workdir / "log4j2.yaml").write_text(LOG4J)
    identifier = record.get("cluster_id")
    formatted = (data_dir / "meta.properties").exists() and record.get("layout") == STORAGE_LAYOUT
    if not record.get("password") or not formatted:
        identifier = _format(ctx, data_dir, password)
    record = {
        "host": "127.0.0.1",
        "port": broker,
        "bootstrap": f"127.0.0.1:{broker}",
        "user": ADMIN_USER,
        "password": password,
        "mechanism": MECHANISM,
        "security_protocol": SECURITY_PROTOCOL,
        "cluster_id": identifier,
        "version": ctx.spec.version,
        "layout": STORAGE_LAYOUT,
    }
    _write_private(path, json.dumps(record, indent=2))


def _args(ctx: Context) -> list[str]:
    """java is the command (controllers.binary_path of a Maven entry); these are its arguments.

    The configuration's digest is part of the command line, so `up` restarts a broker whose
    server.properties changed (the lab restarts a controller whose command line differs)."""
    properties = ctx.workdir / "server.properties"
    digest = hashlib.sha256(properties.read_bytes()).hexdigest()[:12] if properties.exists() else "none"
    return [
        *JVM_OPTIONS,
        f"-Dplatykus.lab.config={digest}",
        f"-Dlog4j2.configurationFile={ctx.workdir / 'log4j2.yaml'}",
        "-cp",
        _classpath(ctx),
        "kafka.Kafka",
        str(ctx.workdir / "server.properties"),
    ]


def _health(ctx: Context) -> str | None:
    """The broker answers a metadata request authenticated as the admin and lists itself."""
    port = ctx.own["broker"]
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
    except OSError as err:
        return f"127.0.0.1:{port} refuses connections ({err.strerror or err})"
    record = admin_record(ctx.lab)
    if record is None or record.get("port") != port:
        return f"{ADMIN_FILE} does not name port {port} yet"
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({**client_config(record), "log_level": 0})
    try:
        metadata = admin.list_topics(timeout=5)
    except KafkaException as err:
        return f"metadata request as {ADMIN_USER} failed: {err.args[0].str() if err.args else err}"
    if NODE_ID not in metadata.brokers:
        return f"broker {NODE_ID} is not in the cluster's metadata yet"
    return None


KAFKA = register(
    Runner(name="kafka", identity=None, ports=("broker", "controller"), args=_args, health=_health, prepare=_prepare)
)
