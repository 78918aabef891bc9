"""Kafka on the lab and the `local` provider's Kafka add-ons, against the real broker.

The lab runs Apache Kafka (KRaft, SASL/SCRAM-SHA-512, StandardAuthorizer; lab/platykus_lab/kafka.py).
Each test drives module_utils/_addon_kafka.KafkaLocalProvider with the lab's admin record, then
connects with confluent-kafka as the add-on's own user: what is asserted is what the broker allows,
refuses and holds (SCRAM users, ACLs, topics, groups), read back as the admin.
"""

from __future__ import annotations

import secrets
import stat
import subprocess
import time
import uuid

import pytest
import yaml
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from conftest import LAB_INVENTORY, ROOT, wait_for

from ansible_collections.platykus.platform.plugins.module_utils._addons.kafka import (
    KafkaLocalProvider,
    client_config,
    desired_acls,
)
from ansible_collections.platykus.platform.plugins.module_utils._addons.providers import AddonRef
from platykus_lab import controllers as lab_controllers
from platykus_lab import kafka as lab_kafka

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def server(lab) -> dict:
    record = lab_kafka.admin_record(lab.lab)
    if "kafka" not in (lab.lab.state().get("controller_ports") or {}):
        pytest.skip("this lab runs without Kafka (PLATYKUS_LAB_CONTROLLERS does not name kafka)")
    assert record is not None, "the lab started Kafka but wrote no admin record"
    return record


@pytest.fixture()
def provider(server) -> KafkaLocalProvider:
    return KafkaLocalProvider(server)


PLAN = yaml.safe_load((LAB_INVENTORY / "group_vars/all/addons.yml").read_text())["platykus_addons"]["plans"]["kafka"]


def new_addon(tenant: str, topics: tuple[str, ...] = ("orders",)) -> AddonRef:
    """An add-on on the lab's basic-0 plan; the platform makes its ``topics`` (the user cannot)."""
    return AddonRef(
        tenant, "events-" + uuid.uuid4().hex[:6], "kafka", f"{tenant}-prod", "basic-0", PLAN["basic-0"], topics
    )


def admin(server: dict) -> AdminClient:
    return AdminClient(client_config(server, server["user"], server["password"]))


def as_user(server: dict, addon: AddonRef, password: str) -> dict:
    return client_config(server, addon.ident, password)


def create_topic(config: dict, name: str) -> None:
    client = AdminClient(config)  # kept referenced until the futures resolve: a collected client cancels them
    for future in client.create_topics([NewTopic(name, 1, 1)], operation_timeout=15).values():
        future.result(timeout=20)


def produce(config: dict, topic: str, value: bytes) -> None:
    """Deliver one message, or raise the broker's error (e.g. TOPIC_AUTHORIZATION_FAILED)."""
    delivered: list = []
    producer = Producer({**config, "message.timeout.ms": 15000})
    producer.produce(topic, value, on_delivery=lambda err, msg: delivered.append(err or msg))
    assert producer.flush(20) == 0, f"message to {topic} still queued after 20s"
    if isinstance(delivered[0], KafkaError):
        raise KafkaException(delivered[0])


def consume_one(config: dict, topic: str, group: str, timeout: float = 30.0) -> bytes:
    """The first message of ``topic`` read in ``group``, or raise the first error the broker sends."""
    consumer = Consumer({**config, "group.id": group, "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is None:
                continue
            if message.error():
                raise KafkaException(message.error())
            return message.value()
        pytest.fail(f"no message on {topic} within {timeout:.0f}s")
    finally:
        consumer.close()


def test_broker_is_up_with_sasl_scram_and_refuses_anonymous_clients(lab, server):
    path = lab.lab.home / "controllers" / "kafka" / lab_kafka.ADMIN_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert server["mechanism"] == "SCRAM-SHA-512" and server["security_protocol"] == "SASL_PLAINTEXT"
    metadata = admin(server).list_topics(timeout=15)
    assert list(metadata.brokers) == [lab_kafka.NODE_ID]
    # `platykus-lab env` names the broker and the record's path, never the password.
    env = subprocess.run(
        [str(ROOT / "bin" / "platykus-lab"), "env", "--name", lab.lab.name], capture_output=True, text=True, check=True
    ).stdout
    assert f"PLATYKUS_LAB_KAFKA_BOOTSTRAP={server['bootstrap']}" in env
    assert f"PLATYKUS_LAB_KAFKA_ADMIN_FILE={path}" in env
    assert server["password"] not in env
    # A PLAINTEXT client (no SASL handshake) gets no metadata.
    plain = AdminClient({"bootstrap.servers": server["bootstrap"], "log_level": 0})
    with pytest.raises(KafkaException):
        plain.list_topics(timeout=3)


def test_addon_user_produces_and_consumes_on_its_prefix_only(server, provider):
    acme, globex = new_addon("acme"), new_addon("globex")
    acme_pw, globex_pw = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
    try:
        # Check mode predicts a change and writes nothing; then create, then idempotent.
        assert provider.ensure(acme, acme_pw, check_mode=True) is True
        assert provider.exists(acme) is False
        assert provider.ensure(acme, acme_pw, check_mode=False) is True
        assert provider.ensure(acme, acme_pw, check_mode=False) is False
        assert provider.ensure(globex, globex_pw, check_mode=False) is True
        assert provider.exists(acme) and provider.exists(globex)
        assert provider._acls(acme) == desired_acls(acme.ident)

        creds = provider.credentials(acme, acme_pw)
        topic, group = creds["database"] + "orders", creds["database"] + "billing"
        acme_config = as_user(server, acme, acme_pw)
        produce(acme_config, topic, b"order-1")  # the platform made the topic
        assert consume_one(acme_config, topic, group) == b"order-1"

        # The user makes no topic of its own, outside its prefix or inside it (the plan's bound)...
        for name in ("unprefixed-orders", creds["database"] + "more"):
            with pytest.raises(KafkaException) as refused:
                create_topic(acme_config, name)
            assert refused.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
        # ...and the other add-on's credentials cannot write or read acme's topic.
        globex_config = as_user(server, globex, globex_pw)
        with pytest.raises(KafkaException) as refused:
            produce(globex_config, topic, b"intruder")
        assert refused.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
        with pytest.raises(KafkaException) as refused:
            consume_one(globex_config, topic, globex.ident + ".spy")
        assert refused.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
        # Nor use acme's consumer group with a topic of its own.
        with pytest.raises(KafkaException) as refused:
            consume_one(globex_config, globex.ident + ".orders", group)
        assert refused.value.args[0].code() == KafkaError.GROUP_AUTHORIZATION_FAILED
    finally:
        provider.remove(acme, check_mode=False)
        provider.remove(globex, check_mode=False)


def test_rotation_invalidates_the_old_password(server, provider):
    addon = new_addon("acme")
    old, new = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
    try:
        provider.ensure(addon, old, check_mode=False)
        assert provider.password_works(addon, old)
        assert provider.ensure(addon, new, check_mode=True) is True
        assert provider.password_works(addon, old), "check mode changed the password"
        assert provider.ensure(addon, new, check_mode=False) is True
        assert provider.ensure(addon, new, check_mode=False) is False
        assert provider.password_works(addon, new)
        assert not provider.password_works(addon, old)
        produce(as_user(server, addon, new), addon.ident + ".orders", b"still-works")
    finally:
        provider.remove(addon, check_mode=False)


def test_delete_removes_user_acls_topics_and_groups(server, provider):
    addon, neighbour = new_addon("acme", ("gone",)), new_addon("acme", ("stays",))
    password = secrets.token_urlsafe(18)
    try:
        provider.ensure(addon, password, check_mode=False)
        provider.ensure(neighbour, password, check_mode=False)
        config = as_user(server, addon, password)
        topic = addon.ident + ".gone"
        produce(config, topic, b"x")
        consume_one(config, topic, addon.ident + ".readers")

        assert provider.remove(addon, check_mode=True) is True
        assert provider.exists(addon), "check mode removed something"
        assert provider.remove(addon, check_mode=False) is True
        assert provider.remove(addon, check_mode=False) is False

        assert provider.exists(addon) is False
        assert provider._has_user(addon) is False and provider._acls(addon) == []
        wait_for("the add-on's topic to be deleted", lambda: topic not in admin(server).list_topics(timeout=10).topics)
        assert provider._groups(addon) == []
        assert not provider.password_works(addon, password)
        # The neighbour with the same tenant keeps its user, ACLs and topic.
        assert provider.password_works(neighbour, password)
        assert neighbour.ident + ".stays" in admin(server).list_topics(timeout=10).topics
    finally:
        provider.remove(addon, check_mode=False)
        provider.remove(neighbour, check_mode=False)


def test_credentials_survive_a_broker_restart_after_a_deletion(lab, server, provider):
    """A restart replaying a log with a SCRAM user deletion could drop every credential (Kafka 4.1.1);
    with the lab's metadata snapshots and keeper user (lab/platykus_lab/kafka.py) the admin and the
    remaining add-ons still log in, and the deleted one does not."""
    gone, kept = new_addon("acme"), new_addon("globex")
    password = secrets.token_urlsafe(18)
    try:
        provider.ensure(gone, password, check_mode=False)
        provider.ensure(kept, password, check_mode=False)
        provider.remove(gone, check_mode=False)
        assert lab_controllers._stop_pid(lab.lab, "kafka")
        lab_controllers.up(lab.lab, LAB_INVENTORY, log=lambda _msg: None)
        restarted = KafkaLocalProvider(lab_kafka.admin_record(lab.lab))
        assert restarted.password_works(kept, password)
        assert restarted._acls(kept) == desired_acls(kept.ident)
        assert not restarted.password_works(gone, password)
    finally:
        KafkaLocalProvider(lab_kafka.admin_record(lab.lab)).remove(kept, check_mode=False)
