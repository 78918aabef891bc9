"""Add-ons on the lab's own data servers (local provider): PostgreSQL, MariaDB, Redis.

Each test asserts what the API server and the data servers hold and connects with the
credentials the add-on's Secret gives (psycopg, PyMySQL, redis-py), as an app would.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import psycopg
import pymysql
import pytest
import redis
import yaml
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource
from conftest import LAB_INVENTORY, run_module
from test_lab_kafka import consume_one as kafka_consume_one
from test_lab_kafka import create_topic as kafka_create_topic
from test_lab_kafka import produce as kafka_produce

from ansible_collections.platykus.platform.plugins.module_utils._addons.kafka import KafkaLocalProvider
from ansible_collections.platykus.platform.plugins.module_utils._addons.kafka import (
    client_config as kafka_client_config,
)
from ansible_collections.platykus.platform.plugins.module_utils._addons.kafka_quotas import QuotaClient
from ansible_collections.platykus.platform.plugins.module_utils._addons.providers import AddonRef
from platykus_lab import kafka as lab_kafka

pytestmark = pytest.mark.lab

CATALOG = yaml.safe_load((LAB_INVENTORY / "group_vars/all/addons.yml").read_text())["platykus_addons"]
PLANS = {
    "postgresql": ("hobby-dev", "standard-0"),
    "mysql": ("hobby-dev", "standard-0"),
    "redis": ("mini", "premium-0"),
}
SERVER = {"postgresql": "postgresql", "mysql": "mariadb", "redis": "redis"}
SELECTOR = "platykus.io/data-service"


def _admin(lab, kind: str) -> dict:
    return json.loads((Path(lab.lab.home) / "controllers" / SERVER[kind] / "admin.json").read_text())


def _addon(lab, tenant: str, name: str, kind: str, plan: str | None = None, **extra) -> tuple[str, dict]:
    request = {"name": name, "tenant": tenant, "environment": "dev", "type": kind, "plan": plan or PLANS[kind][0]}
    args = {"addons": [request], "catalog": CATALOG, "kubeconfig": str(lab.kubeconfig)}
    args.update(extra.pop("args", {}))
    return run_module(lab, "addon", args, **extra)


def _remove(lab, tenant: str, name: str) -> tuple[str, dict]:
    request = {"name": name, "tenant": tenant, "environment": "dev"}
    return run_module(lab, "addon", {"state": "absent", "addons": [request], "kubeconfig": str(lab.kubeconfig)})


def _secret(lab, tenant: str, name: str) -> dict[str, str] | None:
    proc = lab.kubectl("get", "secret", "addon-" + name, "-n", tenant + "-dev", "-o", "json", check=False)
    if proc.returncode:
        return None
    return {k: base64.b64decode(v).decode() for k, v in json.loads(proc.stdout)["data"].items()}


def _data_secrets(lab) -> list[str]:
    items = lab.get_json("secrets", "-A", "-l", SELECTOR)["items"]
    return sorted("%s/%s" % (i["metadata"]["namespace"], i["metadata"]["name"]) for i in items)


def write_read(kind: str, creds: dict[str, str], value: str) -> str:
    """Log in with the Secret's values, write ``value`` and read it back."""
    if kind == "postgresql":
        with psycopg.connect(creds["url"], connect_timeout=5) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS t (k text PRIMARY KEY, v text)")
            conn.execute("INSERT INTO t VALUES ('k', %s) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v", (value,))
            return conn.execute("SELECT v FROM t WHERE k = 'k'").fetchone()[0]
    if kind == "mysql":
        conn = pymysql.connect(
            host=creds["host"], port=int(creds["port"]), user=creds["user"], password=creds["password"],
            database=creds["database"], connect_timeout=5, autocommit=True,
        )  # fmt: skip
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS t (k VARCHAR(8) PRIMARY KEY, v TEXT)")
            cur.execute("REPLACE INTO t VALUES ('k', %s)", (value,))
            cur.execute("SELECT v FROM t WHERE k = 'k'")
            return cur.fetchone()[0]
    client = redis.Redis.from_url(creds["url"], socket_timeout=5, decode_responses=True)
    client.set(creds["database"] + "k", value)
    return client.get(creds["database"] + "k")


def read_other(kind: str, mine: dict[str, str], theirs: dict[str, str]) -> object:
    """With ``mine``, try to read ``theirs``'s data; return what came back (an exception when refused)."""
    try:
        if kind == "postgresql":
            url = theirs["url"].replace(
                "%s:%s@" % (theirs["user"], theirs["password"]), "%s:%s@" % (mine["user"], mine["password"])
            )
            with psycopg.connect(url, connect_timeout=5) as conn:
                return conn.execute("SELECT v FROM t").fetchall()
        if kind == "mysql":
            conn = pymysql.connect(
                host=mine["host"], port=int(mine["port"]), user=mine["user"], password=mine["password"],
                database=mine["database"], connect_timeout=5,
            )  # fmt: skip
            with conn.cursor() as cur:
                cur.execute("SELECT v FROM `%s`.t" % theirs["database"])
                return cur.fetchall()
        client = redis.Redis.from_url(mine["url"], socket_timeout=5, decode_responses=True)
        return client.get(theirs["database"] + "k")
    except (psycopg.Error, pymysql.MySQLError, redis.RedisError) as err:
        return err


def login_works(kind: str, creds: dict[str, str]) -> bool:
    try:
        write_read(kind, creds, "probe")
        return True
    except (psycopg.Error, pymysql.MySQLError, redis.RedisError):
        return False


@pytest.fixture(scope="module")
def tenants(lab):
    run = lab.playbook(
        "playbooks/tenant-onboarding.yml",
        extra_vars={"platykus_tenant_aws": False, "platykus_tenant_capacity_policy": "warn"},
    )
    assert run.ok, run.output[-3000:]
    return ("acme", "initech")


@pytest.mark.parametrize("kind", ["postgresql", "mysql", "redis"])
def test_addon_lifecycle(lab, tenants, kind):
    name = "lc-" + kind[:5]
    for tenant in tenants:  # a rerun on a kept lab starts from nothing
        _remove(lab, tenant, name)
    # Check mode predicts a creation and writes nothing, neither Secret nor server user.
    status, result = _addon(lab, "acme", name, kind, check=True)
    assert status == "CHANGED" and result["servers_changed"] == ["acme/" + name], result
    assert _secret(lab, "acme", name) is None
    status, result = _addon(lab, "acme", name, kind, diff=True)
    assert status == "CHANGED", result
    creds = _secret(lab, "acme", name)
    assert set(creds) >= {"host", "port", "user", "password", "database", "url"}
    svc = lab.get_json("service", "addon-" + name, "-n", "acme-dev")
    assert svc["spec"]["type"] == "ExternalName" and svc["metadata"]["labels"][SELECTOR] == kind
    assert creds["password"] not in json.dumps(result)  # never in what the module returns
    assert write_read(kind, creds, "hello") == "hello"
    # Idempotent: the password is kept, nothing changes.
    status, result = _addon(lab, "acme", name, kind)
    assert status == "SUCCESS" and not result["changed"], result
    assert _secret(lab, "acme", name) == creds

    # Tenant B's add-on: its credentials do not reach A's data.
    status, result = _addon(lab, "initech", name, kind)
    assert status == "CHANGED", result
    other = _secret(lab, "initech", name)
    assert other["user"] != creds["user"]
    assert write_read(kind, other, "theirs") == "theirs"
    refused = read_other(kind, other, creds)
    assert isinstance(refused, Exception), "initech read acme's data: %r" % (refused,)

    # Rotation: the Secret and the server change together; the old password stops working.
    status, result = _addon(lab, "acme", name, kind, args={"rotate": True})
    assert status == "CHANGED" and result["rotated"] == ["acme/" + name], result
    rotated = _secret(lab, "acme", name)
    assert rotated["password"] != creds["password"]
    assert login_works(kind, rotated)
    assert not login_works(kind, creds)

    # Resize: another plan, recorded on the Secret; connection limits follow on the SQL servers.
    status, result = _addon(lab, "acme", name, kind, plan=PLANS[kind][1])
    assert status == "CHANGED", result
    meta = lab.get_json("secret", "addon-" + name, "-n", "acme-dev")["metadata"]
    assert meta["annotations"]["platykus.io/addon-plan"] == PLANS[kind][1]
    if kind == "postgresql":
        admin = _admin(lab, kind)
        with psycopg.connect(
            host=admin["host"], port=admin["port"], user=admin["user"], password=admin["password"], dbname="postgres"
        ) as conn:
            limit = conn.execute("SELECT rolconnlimit FROM pg_roles WHERE rolname = %s", (rotated["user"],)).fetchone()[
                0
            ]
        assert limit == CATALOG["plans"]["postgresql"][PLANS[kind][1]]["connections"]

    # Destroy: the data and the user go from the server, the Secret and Service from the namespace.
    for tenant in tenants:
        status, result = _remove(lab, tenant, name)
        assert status == "CHANGED" and result["removed"] == ["%s/%s" % (tenant, name)], result
    assert _secret(lab, "acme", name) is None
    assert not login_works(kind, rotated)
    status, result = _remove(lab, "acme", name)
    assert status == "SUCCESS" and not result["changed"]


def _pg_roles(lab) -> set[str]:
    admin = _admin(lab, "postgresql")
    with psycopg.connect(
        host=admin["host"], port=admin["port"], user=admin["user"], password=admin["password"], dbname="postgres"
    ) as conn:
        return {row[0] for row in conn.execute("SELECT rolname FROM pg_roles")}


@pytest.mark.parametrize(
    "requests, field",
    [
        (
            [{"name": "x1", "tenant": "acme", "environment": "dev", "type": "mongodb", "plan": "standard-0"}],
            "addons.acme/x1.type",
        ),
        (
            [{"name": "x2", "tenant": "acme", "environment": "dev", "type": "postgresql", "plan": "huge"}],
            "addons.acme/x2.plan",
        ),
        (
            [{"name": "x3", "tenant": "acme", "environment": "qa", "type": "postgresql", "plan": "hobby-dev"}],
            "addons.acme/x3.environment",
        ),
        (
            [
                {"name": "big%d" % i, "tenant": "acme", "environment": "dev", "type": "postgresql", "plan": "premium-0"}
                for i in range(2)
            ],
            "addons.acme/big1.plan",
        ),
    ],
    ids=["unknown-type", "unknown-plan", "not-onboarded", "over-quota"],
)
def test_bad_requests_are_refused_before_anything_is_written(lab, tenants, requests, field):
    before_secrets, before_roles = _data_secrets(lab), _pg_roles(lab)
    status, result = run_module(
        lab, "addon", {"addons": requests, "catalog": CATALOG, "kubeconfig": str(lab.kubeconfig)}
    )
    assert status == "FAILED", result
    assert field in result["msg"], result["msg"]
    assert _data_secrets(lab) == before_secrets
    assert _pg_roles(lab) == before_roles


DEVELOPER = ("--as=someone@acme.example", "--as-group=acme-devs")  # acme's developer group (inventories/lab)
POLICY = "platykus-protect-addon-secrets"


def _as_developer(lab, *args: str, stdin: str | None = None):
    return lab.kubectl(*args, "-n", "acme-dev", *DEVELOPER, check=False, input=stdin)


def test_addon_secrets_are_the_platforms_and_the_report_prices_them(lab, tenants, tmp_path):
    """A tenant developer reads the add-on's Secret but cannot change or delete it (the admission
    policy, not RBAC: the same developer edits a Secret of their own); rotation through the playbook
    still works; the usage report (playbook) charges the add-on its plan's price."""
    run = lab.playbook("playbooks/addon-create.yml", extra_vars={"addon": "acme/orders-db"})
    assert run.ok, run.output[-3000:]
    creds = _secret(lab, "acme", "orders-db")
    assert lab.get_json("validatingadmissionpolicybinding", POLICY)["spec"]["validationActions"] == ["Deny"]
    assert _as_developer(lab, "get", "secret", "addon-orders-db").returncode == 0
    attempts = [
        ("patch", "secret", "addon-orders-db", "-p", '{"stringData": {"password": "mine-now"}}'),
        ("label", "secret", "addon-orders-db", "platykus.io/addon-"),
        ("annotate", "secret", "addon-orders-db", "platykus.io/addon-plan=premium-0", "--overwrite"),
        ("delete", "secret", "addon-orders-db"),
        ("delete", "secrets", "-l", "platykus.io/addon"),
    ]
    for attempt in attempts:
        proc = _as_developer(lab, *attempt)
        assert proc.returncode != 0 and "belong to the platform" in proc.stderr, (attempt, proc.stdout, proc.stderr)
    assert _secret(lab, "acme", "orders-db") == creds
    # Control: the developer may write Secrets of their own, so the refusals above are the policy's.
    own = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "dev-own"}, "stringData": {"k": "v"}}
    assert _as_developer(lab, "apply", "-f", "-", stdin=json.dumps(own)).returncode == 0
    assert _as_developer(lab, "patch", "secret", "dev-own", "-p", '{"stringData": {"k": "w"}}').returncode == 0
    assert _as_developer(lab, "delete", "secret", "dev-own").returncode == 0

    # Nor through external-secrets: an ExternalSecret of theirs that would write the add-on's Secret
    # (creationPolicy Merge) is refused; one with a target of their own is admitted.
    def external_secret(target: str) -> str:
        spec = {
            "secretStoreRef": {"name": "platykus-secrets-acme", "kind": "ClusterSecretStore"},
            "target": {"name": target, "creationPolicy": "Merge"},
            "data": [{"secretKey": "password", "remoteRef": {"key": "platykus/acme/mine"}}],
        }
        return json.dumps(
            {
                "apiVersion": "external-secrets.io/v1",
                "kind": "ExternalSecret",
                "metadata": {"name": "mine"},
                "spec": spec,
            }
        )

    proc = _as_developer(lab, "apply", "-f", "-", stdin=external_secret("addon-orders-db"))
    assert proc.returncode != 0 and "belong to the platform" in proc.stderr, proc.stderr
    assert _as_developer(lab, "apply", "-f", "-", stdin=external_secret("dev-own")).returncode == 0
    assert _as_developer(lab, "delete", "externalsecret", "mine").returncode == 0
    # An operator bound to cluster-admin but in no platform group (an EKS access entry with
    # AmazonEKSClusterAdminPolicy): RBAC lets it manage addons.platykus.io, so the policy admits it.
    operator = ("--as=ops@platykus.example",)
    lab.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "test-addon-operator"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": operator[0][5:]}],
        }
    )
    try:
        annotate = ("annotate", "secret", "addon-orders-db", "-n", "acme-dev", "test/touched=yes", *operator)
        proc = lab.kubectl(*annotate, check=False)
        assert proc.returncode == 0, proc.stderr
    finally:
        lab.kubectl("delete", "clusterrolebinding", "test-addon-operator", check=False)

    rotated_run = lab.playbook("playbooks/addon-rotate.yml", extra_vars={"addon": "acme/orders-db"})
    assert rotated_run.ok and "rotated acme/orders-db" in rotated_run.output, rotated_run.output[-3000:]
    rotated = _secret(lab, "acme", "orders-db")
    assert rotated["password"] != creds["password"] and login_works("postgresql", rotated)
    assert not login_works("postgresql", creds)

    report_run = lab.playbook(
        "playbooks/usage-report.yml",
        extra_vars={"usage_report_dir": str(tmp_path), "usage_report_unpriced": "report"},
    )
    assert report_run.ok, report_run.output[-3000:]
    report = json.loads(next(tmp_path.glob("usage-*.json")).read_text())
    created = lab.get_json("secret", "addon-orders-db", "-n", "acme-dev")["metadata"]["creationTimestamp"]
    line = next(a for a in report["addons"]["lines"] if (a["tenant"], a["addon"]) == ("acme", "orders-db"))
    monthly = CATALOG["plans"]["postgresql"]["standard-0"]["monthly"]
    assert (line["type"], line["plan"], line["provider"], line["monthly"], line["charged_by"]) == (
        "postgresql", "standard-0", "local", monthly, "catalog",
    )  # fmt: skip
    elapsed = (dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(created.replace("Z", "+00:00"))).total_seconds()
    assert 0 < line["hours"] <= elapsed / 3600 + 0.001, (line, created)
    assert line["cost"] == pytest.approx(monthly * line["hours"] / 730, abs=0.0001)
    acme = next(t for t in report["tenants"] if t["name"] == "acme")
    assert {"source": "addon", "service": "orders-db", "cost": line["cost"]} in acme["out_of_cluster"]
    assert acme["cost"]["addons"] >= line["cost"]
    parts = ("cpu", "memory", "storage", "loadbalancer", "idle", "platform", "addons")
    assert acme["cost"]["total"] == pytest.approx(sum(acme["cost"][k] for k in parts), abs=0.0005)
    assert report["total"]["out_of_cluster"] == report["addons"]["total"]
    markdown = next(tmp_path.glob("usage-*.md")).read_text()
    assert "## Add-ons" in markdown and "| acme | orders-db | postgresql | standard-0 |" in markdown


def _kafka(lab, tenant: str, plan: str, topics=None, **extra) -> tuple[str, dict]:
    request = {"name": "stream", "tenant": tenant, "environment": "dev", "type": "kafka", "plan": plan}
    if topics is not None:
        request["topics"] = topics
    args = {"addons": [request], "catalog": CATALOG, "kubeconfig": str(lab.kubeconfig)}
    args.update(extra.pop("args", {}))
    return run_module(lab, "addon", args, **extra)


def _broker_state(server: dict, user: str, prefix: str) -> dict:
    """What the broker holds for an add-on, read as the admin: quotas, topics' partitions and retention."""
    admin = AdminClient(kafka_client_config(server, server["user"], server["password"]))
    topics = {n: len(t.partitions) for n, t in admin.list_topics(timeout=15).topics.items() if n.startswith(prefix)}
    configs = {}
    resources = [ConfigResource("TOPIC", n) for n in sorted(topics)]
    for resource, future in (admin.describe_configs(resources) if resources else {}).items():
        entries = future.result(timeout=15)
        configs[resource.name] = (entries["retention.bytes"].value, entries["retention.ms"].value)
    return {"quotas": QuotaClient(server).describe(user), "partitions": topics, "retention": configs}


def _producer_throttle_ms(config: dict, topic: str, megabytes: int) -> int:
    """Produce ``megabytes`` of 10 KiB messages; the longest throttle the broker imposed (librdkafka's stats)."""
    throttles: list[int] = []

    def stats(text: str) -> None:
        throttles.extend(b.get("throttle", {}).get("max", 0) for b in json.loads(text).get("brokers", {}).values())

    producer = Producer({**config, "statistics.interval.ms": 500, "stats_cb": stats, "linger.ms": 5})
    for _ in range(megabytes * 100):
        producer.produce(topic, b"x" * 10240)
        producer.poll(0)
    assert producer.flush(120) == 0
    for _ in range(20):  # two more stats intervals
        producer.poll(0.1)
    return max(throttles or [0])


def _kafka_refusal(call) -> int:
    with pytest.raises(KafkaException) as refused:
        call()
    return refused.value.args[0].code()


def test_kafka_addon_through_the_module_with_its_plan_enforced_by_the_broker(lab, tenants):
    """Create, connect (confluent-kafka with the Secret's credentials), isolation, the plan on the
    broker (client quotas, platform-made topics and retention, no topic of the user's own), resize,
    rotation and destroy, all through the addon module; every fact read back from the broker."""
    server = lab_kafka.admin_record(lab.lab)
    if server is None:
        pytest.skip("this lab runs without Kafka (PLATYKUS_LAB_CONTROLLERS does not name kafka)")
    for tenant in tenants:
        run_module(lab, "addon", {"state": "absent", "kubeconfig": str(lab.kubeconfig),
                                  "addons": [{"name": "stream", "tenant": tenant, "environment": "dev"}]})  # fmt: skip
    status, result = _kafka(lab, "acme", "basic-0", ["orders", "o1", "o2", "o3", "o4"])
    assert status == "FAILED" and "addons.acme/stream.topics" in result["msg"] and "max_partitions 4" in result["msg"]
    status, result = _kafka(lab, "acme", "basic-0", ["orders", "audit"], check=True)
    assert status == "CHANGED" and _secret(lab, "acme", "stream") is None, result
    status, result = _kafka(lab, "acme", "basic-0", ["orders", "audit"])
    assert status == "CHANGED", result
    creds = _secret(lab, "acme", "stream")
    assert creds["password"] not in json.dumps(result)
    user, prefix = creds["user"], creds["database"]
    assert "topic_prefix=" + prefix in creds["url"]
    status, again = _kafka(lab, "acme", "basic-0", ["orders", "audit"])
    assert status == "SUCCESS" and not again["changed"], again

    # The plan on the broker: quotas on the user, the platform's topics with their partitions and retention.
    basic, standard = CATALOG["plans"]["kafka"]["basic-0"], CATALOG["plans"]["kafka"]["standard-0"]
    state = _broker_state(server, user, prefix)
    assert state["quotas"] == {"producer_byte_rate": 262144.0, "consumer_byte_rate": 524288.0}, basic
    assert state["partitions"] == {prefix + "audit": 1, prefix + "orders": 1}
    assert state["retention"][prefix + "orders"] == (str(256 * 2**20), str(24 * 3_600_000))

    # Connect as the add-on's own user: produce and consume on its topic...
    config = kafka_client_config(server, user, creds["password"])
    assert creds["host"] == server["host"] and int(creds["port"]) == int(server["port"])
    kafka_produce(config, prefix + "orders", b"order-1")
    assert kafka_consume_one(config, prefix + "orders", prefix + "readers") == b"order-1"
    # The broker holds the user to its plan's producer rate (256 KiB/s): 4 MiB at once gets throttled.
    assert _producer_throttle_ms(config, prefix + "audit", 4) > 0
    # ...but make no topic (the plan's bound) nor change one's retention.
    assert _kafka_refusal(lambda: kafka_create_topic(config, prefix + "mine")) == KafkaError.TOPIC_AUTHORIZATION_FAILED
    user_admin = AdminClient(config)
    raise_retention = ConfigResource(
        "TOPIC",
        prefix + "orders",
        incremental_configs=[ConfigEntry("retention.bytes", "-1", incremental_operation=AlterConfigOpType.SET)],
    )
    code = _kafka_refusal(
        lambda: [f.result(timeout=15) for f in user_admin.incremental_alter_configs([raise_retention]).values()]
    )
    assert code == KafkaError.TOPIC_AUTHORIZATION_FAILED
    # Another add-on's topic is refused.
    status, result = _kafka(lab, "initech", "basic-0")
    assert status == "CHANGED", result
    theirs = _secret(lab, "initech", "stream")
    code = _kafka_refusal(lambda: kafka_produce(config, theirs["database"] + "events", b"intruder"))
    assert code == KafkaError.TOPIC_AUTHORIZATION_FAILED

    # Resize: the quotas and the retention follow, partitions are added.
    status, result = _kafka(lab, "acme", "standard-0", ["orders", "audit"])
    assert status == "CHANGED", result
    state = _broker_state(server, user, prefix)
    assert state["quotas"] == {"producer_byte_rate": 1048576.0, "consumer_byte_rate": 2097152.0}, standard
    assert state["partitions"] == {prefix + "audit": 3, prefix + "orders": 3}
    assert state["retention"][prefix + "audit"] == (str(512 * 2**20), str(168 * 3_600_000))
    # Back to basic-0 would remove partitions, which Kafka cannot: refused, naming the plan; nothing changed.
    status, result = _kafka(lab, "acme", "basic-0", ["orders", "audit"])
    assert status == "FAILED" and "Kafka cannot remove partitions" in result["msg"], result
    assert _broker_state(server, user, prefix)["partitions"][prefix + "orders"] == 3

    # Rotation: the new password works, the old one no longer does.
    status, result = _kafka(lab, "acme", "standard-0", ["orders", "audit"], args={"rotate": True})
    assert status == "CHANGED" and result["rotated"] == ["acme/stream"], result
    rotated = _secret(lab, "acme", "stream")
    provider = KafkaLocalProvider(server)
    ref = AddonRef("acme", "stream", "kafka", "acme-dev", "standard-0", {})
    assert ref.ident == user
    assert provider.password_works(ref, rotated["password"]) and not provider.password_works(ref, creds["password"])

    # Destroy: the user, its quotas and its topics leave the broker; the Secret leaves the namespace.
    for tenant in tenants:
        status, result = run_module(lab, "addon", {"state": "absent", "kubeconfig": str(lab.kubeconfig),
                                    "addons": [{"name": "stream", "tenant": tenant, "environment": "dev"}]})  # fmt: skip
        assert status == "CHANGED", result
    assert _secret(lab, "acme", "stream") is None
    assert provider._has_user(ref) is False
    assert _broker_state(server, user, prefix) == {"quotas": {}, "partitions": {}, "retention": {}}


def test_playbook_and_offboarding_guard(lab, tenants):
    """playbooks/addons.yml makes the inventory's add-ons and logs in with each URL; offboarding
    refuses while a tenant holds one, and when forced drops them from the servers too."""
    run = lab.playbook("playbooks/addons.yml")
    assert run.ok, run.output[-3000:]
    assert "OK postgresql orders-db: wrote and read" in run.output
    # globex's portal app asks for PostgreSQL and Redis in its spec (the main job's example).
    assert "OK postgresql portal-postgresql: wrote and read" in run.output
    assert "OK redis portal-redis: wrote and read" in run.output
    creds = _secret(lab, "acme", "orders-db")
    assert login_works("postgresql", creds)

    refused = lab.playbook("playbooks/tenant-offboarding.yml", extra_vars={"tenant": "acme", "confirm": "acme"})
    assert not refused.ok and "Secret/acme-dev/addon-orders-db" in refused.output
    assert login_works("postgresql", creds)

    forced = lab.playbook(
        "playbooks/tenant-offboarding.yml", extra_vars={"tenant": "acme", "confirm": "acme", "force": True}
    )
    assert forced.ok, forced.output[-3000:]
    assert creds["user"] not in _pg_roles(lab)
    assert not login_works("postgresql", creds)
