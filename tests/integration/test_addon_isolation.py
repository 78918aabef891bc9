"""Add-on users on the lab's shared data servers reach their own objects only (issue 27, item 5).

Each test makes two add-ons through the addon module (acme's and initech's), logs in with the
credentials of acme's Secret as an app would (redis-py, psycopg, PyMySQL, confluent-kafka), tries
what reaches server-wide state or the other add-on, and asserts the server refused it, that acme's
add-on still works, and that initech's objects are untouched (read back as initech or the admin).
Each also puts an add-on back into the state an older Platykus left it in, and shows the next run
repairs it, once.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
import uuid

import kafka.admin as kafka_admin
import kafka.errors as kafka_errors
import psycopg
import pymysql
import pytest
import redis
from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ResourcePatternType,
    ResourceType,
)
from kafka.admin import ACLFilter, ACLOperation, ACLPermissionType, ACLResourcePatternType, ResourcePatternFilter
from kafka.admin import ResourceType as KafkaResourceType
from test_addons_local import (
    _addon,
    _admin,
    _remove,
    _secret,
    tenants,  # noqa: F401 - the onboarded tenants (a fixture)
    write_read,
)
from test_lab_kafka import consume_one, produce

from ansible_collections.platykus.platform.plugins.module_utils._addons import redis_acl as _redis_acl
from ansible_collections.platykus.platform.plugins.module_utils._addons.kafka import (
    client_config as kafka_client_config,
)
from ansible_collections.platykus.platform.plugins.module_utils._addons.kafka import desired_acls
from platykus_lab import kafka as lab_kafka
from platykus_lab import redis_acl as lab_redis_acl

pytestmark = [pytest.mark.lab, pytest.mark.usefixtures("tenants")]

# The Redis add-on ACL before issue 27 (categories picked by hand, +@scripting among them).
OLD_REDIS_COMMANDS = (
    "-@all +@read +@write +@string +@hash +@list +@set +@sortedset +@stream +@bitmap +@hyperloglog +@geo +@pubsub "
    "+@transaction +@connection +@scripting -@dangerous -@admin -keys -scan -randomkey -select -swapdb -move -migrate"
)


# The plans the tests use (test_addons_local.PLANS has the SQL servers' and Redis's first).
PLAN = {"kafka": "basic-0"}


MADE: list[str] = []


@pytest.fixture(autouse=True)
def _removed_after(lab):
    """The add-ons a test made leave the servers after it (they count against the tenants' quota)."""
    yield
    while MADE:
        name = MADE.pop()
        for tenant in ("acme", "initech"):
            _remove(lab, tenant, name)


def _pair(lab, name: str, kind: str) -> tuple[dict, dict]:
    """acme's and initech's add-on ``name`` made anew; their Secrets' values."""
    MADE.append(name)
    for tenant in ("acme", "initech"):
        _remove(lab, tenant, name)
    for tenant in ("acme", "initech"):
        status, result = _addon(lab, tenant, name, kind, PLAN.get(kind))
        assert status == "CHANGED", result
    return _secret(lab, "acme", name), _secret(lab, "initech", name)


def _rerun(lab, name: str, kind: str) -> None:
    """The next run repairs what an older release left, and the one after changes nothing."""
    plan = PLAN.get(kind)
    status, result = _addon(lab, "acme", name, kind, plan, check=True)
    assert status == "CHANGED" and result["servers_changed"] == ["acme/" + name], result
    status, result = _addon(lab, "acme", name, kind, plan)
    assert status == "CHANGED" and result["servers_changed"] == ["acme/" + name], result
    status, result = _addon(lab, "acme", name, kind, plan)
    assert status == "SUCCESS" and not result["changed"], result


# -- Redis ----------------------------------------------------------------------------------------


def _redis_admin(lab) -> redis.Redis:
    admin = _admin(lab, "redis")
    return redis.Redis(
        host=admin["host"], port=admin["port"], username=admin["user"], password=admin["password"],
        socket_timeout=5, decode_responses=True,
    )  # fmt: skip


def _redis_refused(client: redis.Redis, *command) -> str:
    with pytest.raises(redis.ResponseError) as refused:
        client.execute_command(*command)
    message = str(refused.value)
    assert re.search(r"no permissions|can't (run|access|publish)|DEBUG command not allowed", message), (
        command,
        message,
    )
    return message


def test_redis_addon_user_reaches_no_server_wide_state_nor_the_other_addon(lab):
    mine, theirs = _pair(lab, "iso-redis", "redis")
    me = redis.Redis.from_url(mine["url"], socket_timeout=5, decode_responses=True)
    them = redis.Redis.from_url(theirs["url"], socket_timeout=5, decode_responses=True)
    admin = _redis_admin(lab)
    my, their = mine["database"], theirs["database"]
    # The other add-on's objects on the server: a key, a cached script, a subscription; and a function
    # library (loaded by the admin: no add-on user may load one now).
    them.set(their + "k", "theirs")
    sha = them.script_load("return redis.call('get', KEYS[1])")
    library = "platykus_test_" + uuid.uuid4().hex[:6]
    admin.function_load("#!lua name=%s\nredis.register_function('%s_f', function() return 1 end)" % (library, library))
    listener = them.pubsub()
    listener.subscribe(their + "news")
    assert listener.get_message(timeout=5)["type"] == "subscribe"
    try:
        # The attack of the issue, and every server-wide or other-keyspace command of its class.
        attacks = [
            ("FUNCTION", "FLUSH"), ("FUNCTION", "DELETE", library), ("FUNCTION", "LIST"),
            ("FUNCTION", "LOAD", "#!lua name=mine\nredis.register_function('mine', function() return 1 end)"),
            ("SCRIPT", "FLUSH"), ("SCRIPT", "KILL"), ("SCRIPT", "EXISTS", sha),
            ("FLUSHALL",), ("FLUSHDB",), ("KEYS", "*"), ("SCAN", "0"), ("RANDOMKEY",), ("DBSIZE",),
            ("SWAPDB", "0", "1"), ("SELECT", "1"), ("MOVE", my + "k", "1"), ("COPY", my + "k", my + "c", "DB", "1"),
            ("CONFIG", "GET", "*"), ("CONFIG", "SET", "maxmemory", "1"), ("DEBUG", "SLEEP", "0"), ("INFO",),
            ("CLIENT", "LIST"), ("CLIENT", "KILL", "TYPE", "normal"), ("CLIENT", "TRACKING", "on", "BCAST"),
            ("ACL", "LIST"), ("ACL", "SETUSER", mine["user"], "+@all"), ("MEMORY", "STATS"), ("SAVE",),
            ("PUBSUB", "CHANNELS"), ("PUBSUB", "NUMSUB", their + "news"), ("PUBLISH", their + "news", "x"), ("SPUBLISH", their + "news", "x"),
            ("GET", their + "k"), ("SET", their + "k", "mine"), ("OBJECT", "FREQ", their + "k"),
            ("SORT", my + "list", "BY", "nosort", "GET", their + "*"),
            ("EVALSHA", sha, "1", their + "k"),
            ("EVAL", "return redis.call('get', ARGV[1])", "0", their + "k"),
            ("EVAL", "return redis.call('flushall')", "0"),
            ("EVAL", "return redis.call('select', 1)", "0"),
            ("EVAL", "return redis.call('publish', ARGV[1], 'x')", "0", their + "news"),
        ]  # fmt: skip
        me.set(my + "k", "mine")
        for attack in attacks:
            _redis_refused(me, *attack)
            if attack[0] not in ("EVAL", "EVALSHA"):  # the script's own calls are refused, above
                verdict = admin.execute_command("ACL", "DRYRUN", mine["user"], *attack)
                assert verdict != "OK" and "no permissions" in verdict, (attack, verdict)
        for subscribe in (("SUBSCRIBE", their + "news"), ("PSUBSCRIBE", "*"), ("SSUBSCRIBE", their + "news")):
            with pytest.raises(redis.ResponseError, match="no permissions"):
                redis.Redis.from_url(mine["url"], socket_timeout=5).execute_command(*subscribe)

        # The other add-on is untouched: its key, its script, the function, its subscription.
        assert them.get(their + "k") == "theirs"
        assert admin.script_exists(sha) == [True]
        assert library in str(admin.execute_command("FUNCTION", "LIST", "LIBRARYNAME", library))
        assert admin.pubsub_numsub(their + "news") == [(their + "news", 1)]
        assert them.evalsha(sha, 1, their + "k") == "theirs"

        # acme's add-on still works: keys, scripts (EVAL, EVALSHA, redis-py's Script), a
        # transaction, expiry, pub/sub on its own channels.
        assert write_read("redis", mine, "hello") == "hello"
        assert me.eval("return redis.call('incr', KEYS[1])", 1, my + "n") == 1
        incr = me.register_script("return redis.call('incrby', KEYS[1], ARGV[1])")
        assert incr(keys=[my + "n"], args=[2]) == 3
        with me.pipeline(transaction=True) as pipe:
            assert pipe.hset(my + "h", "f", "v").expire(my + "h", 60).hgetall(my + "h").execute()[2] == {"f": "v"}
        mine_listener = me.pubsub()
        mine_listener.subscribe(my + "news")
        assert mine_listener.get_message(timeout=5)["type"] == "subscribe"
        assert me.publish(my + "news", "hi") == 1
        assert mine_listener.get_message(timeout=5)["data"] == "hi"
        mine_listener.close()
    finally:
        listener.close()
        admin.function_delete(library)


def _tracking_leak(host: str, port: int, user: str, password: str, admin: redis.Redis, key: str) -> bytes:
    """What a RESP3 connection of ``user`` with CLIENT TRACKING ON BCAST receives when the admin
    writes ``key`` (b"" when nothing): the attack behind _addons.redis_acl.UNCHECKED."""

    def send(sock, *args):
        sock.sendall(b"".join([b"*%d\r\n" % len(args), *(b"$%d\r\n%s\r\n" % (len(a), a.encode()) for a in args)]))

    with socket.create_connection((host, port), timeout=2) as sock:
        send(sock, "HELLO", "3", "AUTH", user, password)
        time.sleep(0.2)
        sock.recv(65536)
        send(sock, "CLIENT", "TRACKING", "on", "BCAST")
        time.sleep(0.2)
        sock.recv(65536)
        admin.set(key, uuid.uuid4().hex)
        time.sleep(0.3)
        try:
            return sock.recv(65536)
        except TimeoutError:
            return b""


def test_redis_acl_is_what_the_running_server_derives_and_existing_users_get_it(lab):
    admin = _redis_admin(lab)
    # The checked-in list is what the rules derive from this server (python -m platykus_lab.redis_acl --write).
    derived = _redis_acl.derive(lab_redis_acl.server_commands(_redis_admin(lab)))
    assert derived == _redis_acl.COMMANDS, set(derived) ^ set(_redis_acl.COMMANDS)
    assert lab_redis_acl.server_description(admin, derived) == _redis_acl.DESCRIBED
    # Each exception of the rules still holds on this server: CLIENT TRACKING BCAST reveals others' key names.
    probe, password = "platykus-test-probe", uuid.uuid4().hex
    server = _admin(lab, "redis")
    admin.execute_command("ACL", "SETUSER", probe, *_redis_acl.rules(probe, password, ["hello", "client|tracking"]))
    try:
        leak = _tracking_leak(server["host"], server["port"], probe, password, admin, "other_addon:k")
        assert b"invalidate" in leak and b"other_addon:k" in leak, leak
    finally:
        admin.execute_command("ACL", "DELUSER", probe)
        admin.delete("other_addon:k")

    # An add-on made by an older release (its ACL with +@scripting): the next run rewrites the ACL.
    name = "old-redis"
    MADE.append(name)
    _remove(lab, "acme", name)
    assert _addon(lab, "acme", name, "redis")[0] == "CHANGED"
    creds = _secret(lab, "acme", name)
    admin.execute_command(
        "ACL", "SETUSER", creds["user"], "reset", "on", ">" + creds["password"], "~%s*" % creds["database"],
        "&%s*" % creds["database"], *OLD_REDIS_COMMANDS.split(),
    )  # fmt: skip
    me = redis.Redis.from_url(creds["url"], socket_timeout=5, decode_responses=True)
    assert isinstance(me.execute_command("FUNCTION", "LIST"), list)  # the old ACL let it run server-wide commands
    _rerun(lab, name, "redis")
    _redis_refused(me, "FUNCTION", "LIST")
    assert _secret(lab, "acme", name) == creds and write_read("redis", creds, "kept") == "kept"
    assert _redis_acl.command_rules_match(admin.acl_getuser(creds["user"]))


# -- PostgreSQL -----------------------------------------------------------------------------------


def _pg_admin(lab, dbname: str = "postgres") -> psycopg.Connection:
    admin = _admin(lab, "postgresql")
    return psycopg.connect(
        host=admin["host"], port=admin["port"], user=admin["user"], password=admin["password"], dbname=dbname,
        autocommit=True, connect_timeout=5,
    )  # fmt: skip


def _pg_as(creds: dict, dbname: str) -> psycopg.Connection:
    return psycopg.connect(
        host=creds["host"], port=creds["port"], user=creds["user"], password=creds["password"], dbname=dbname,
        connect_timeout=5,
    )  # fmt: skip


def test_postgresql_addon_user_connects_to_its_own_database_only(lab):
    mine, theirs = _pair(lab, "iso-postg", "postgresql")
    assert write_read("postgresql", theirs, "theirs") == "theirs"
    # An older release left the maintenance databases open to PUBLIC and schema public usable by it.
    with _pg_admin(lab) as admin:
        for database in ("postgres", "template1"):
            admin.execute("GRANT CONNECT, TEMPORARY ON DATABASE %s TO PUBLIC" % database)
    with _pg_admin(lab, mine["database"]) as admin:
        admin.execute("GRANT USAGE, CREATE ON SCHEMA public TO PUBLIC")
    with _pg_as(mine, "postgres") as conn:  # the hole of the issue, as it was
        assert conn.execute("SELECT current_database()").fetchone() == ("postgres",)
    _rerun(lab, "iso-postg", "postgresql")

    for database in ("postgres", "template1", theirs["database"]):
        with pytest.raises(psycopg.OperationalError, match="CONNECT privilege|permission denied"):
            _pg_as(mine, database).close()
    with _pg_admin(lab) as admin:
        rows = admin.execute("SELECT datname, datacl::text[] FROM pg_database WHERE datallowconn").fetchall()
    assert rows and all(acl is not None and not any(i.startswith("=") for i in acl) for _n, acl in rows), rows
    for creds in (mine, theirs):
        with _pg_admin(lab, creds["database"]) as admin:
            acl = admin.execute("SELECT nspacl::text[] FROM pg_namespace WHERE nspname = 'public'").fetchone()[0]
        assert not any(item.startswith("=") for item in acl), acl

    # acme's add-on still works: tables, and a dump of its own database with the stock client.
    assert write_read("postgresql", mine, "hello") == "hello"
    dump = subprocess.run(
        ["/usr/lib/postgresql/15/bin/pg_dump", "-h", mine["host"], "-p", mine["port"], "-U", mine["user"],
         "--schema-only", mine["database"]],
        env={**os.environ, "PGPASSWORD": mine["password"]}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert dump.returncode == 0 and "CREATE TABLE public.t" in dump.stdout, dump.stderr[-2000:]
    # initech's is untouched.
    with _pg_as(theirs, theirs["database"]) as conn:
        assert conn.execute("SELECT v FROM t").fetchall() == [("theirs",)]


# -- MariaDB --------------------------------------------------------------------------------------


def _my_as(creds: dict, database: str | None = None) -> pymysql.Connection:
    return pymysql.connect(
        host=creds["host"], port=int(creds["port"]), user=creds["user"], password=creds["password"],
        database=database, connect_timeout=5, autocommit=True,
    )  # fmt: skip


def _my_admin(lab) -> pymysql.Connection:
    admin = _admin(lab, "mysql")
    return pymysql.connect(
        host=admin["host"], port=int(admin["port"]), user=admin["user"], password=admin["password"],
        connect_timeout=5, autocommit=True,
    )  # fmt: skip


def _my_refused(cur, statement: str) -> int:
    with pytest.raises(pymysql.MySQLError) as refused:
        cur.execute(statement)
    return refused.value.args[0]


def test_mysql_addon_user_holds_privileges_on_its_own_database_only(lab):
    mine, theirs = _pair(lab, "iso-mysql", "mysql")
    assert write_read("mysql", theirs, "theirs") == "theirs"
    lookalike = mine["database"].replace("_", "x")  # what the wildcard of a GRANT on the bare name covers
    admin = _my_admin(lab)
    try:
        cur = admin.cursor()
        cur.execute("DROP DATABASE IF EXISTS `%s`" % lookalike)
        # An older release granted on the bare name, in which _ is a wildcard.
        cur.execute(
            "REVOKE ALL PRIVILEGES ON `%s`.* FROM %%s@'%%%%'" % mine["database"].replace("_", "\\_"), (mine["user"],)
        )
        cur.execute("GRANT ALL PRIVILEGES ON `%s`.* TO %%s@'%%%%'" % mine["database"], (mine["user"],))
        with _my_as(mine, mine["database"]) as conn:  # the hole, as it was
            conn.cursor().execute("CREATE DATABASE `%s`" % lookalike)
        cur.execute("DROP DATABASE `%s`" % lookalike)
        _rerun(lab, "iso-mysql", "mysql")

        with _my_as(mine, mine["database"]) as conn:
            me = conn.cursor()
            me.execute("SHOW DATABASES")
            assert {row[0] for row in me.fetchall()} == {mine["database"], "information_schema"}
            me.execute("SELECT schema_name FROM information_schema.schemata")
            assert {row[0] for row in me.fetchall()} == {mine["database"], "information_schema"}
            me.execute("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %s", (theirs["database"],))
            assert me.fetchone() == (0,)
            me.execute("SELECT privilege_type FROM information_schema.user_privileges")
            assert [row[0] for row in me.fetchall()] == ["USAGE"]  # no global privilege at all
            me.execute("SHOW PROCESSLIST")
            assert {row[1] for row in me.fetchall()} == {mine["user"]}
            assert _my_refused(me, "SELECT v FROM `%s`.t" % theirs["database"]) == 1142
            assert _my_refused(me, "USE `%s`" % theirs["database"]) == 1044
            assert _my_refused(me, "SELECT user FROM mysql.user") == 1142
            assert _my_refused(me, "CREATE DATABASE `%s`" % lookalike) == 1044
            assert _my_refused(me, "SHOW ENGINE INNODB STATUS") == 1227  # PROCESS
            assert _my_refused(me, "SET GLOBAL max_connections = 1") == 1227  # SUPER
            assert _my_refused(me, "SELECT 1 INTO OUTFILE '/tmp/platykus-test-out'") in (1045, 1227)  # FILE
        assert write_read("mysql", mine, "hello") == "hello"
        with _my_as(theirs, theirs["database"]) as conn:
            other = conn.cursor()
            other.execute("SELECT v FROM t")
            assert other.fetchall() == (("theirs",),)
    finally:
        admin.cursor().execute("DROP DATABASE IF EXISTS `%s`" % lookalike)
        admin.close()


# -- Kafka ----------------------------------------------------------------------------------------


def _kafka_refused(what: str, call) -> str:
    """The broker's error name for a refused call (every future resolved); fails naming ``what``."""
    try:
        result = call()
        for future in result.values() if isinstance(result, dict) else [result]:
            future.result(timeout=15)
    except KafkaException as err:
        name = err.args[0].name()
        assert "AUTHORIZATION_FAILED" in name, (what, name)
        return name
    raise AssertionError("%s: the broker allowed it" % what)


def _kafka_python_admin(server: dict, creds: dict):
    """kafka-python's admin client as the add-on's user."""
    return kafka_admin.KafkaAdminClient(
        bootstrap_servers=server["bootstrap"], security_protocol=server["security_protocol"],
        sasl_mechanism=server["mechanism"], sasl_plain_username=creds["user"], sasl_plain_password=creds["password"],
        request_timeout_ms=15000,
    )  # fmt: skip


def _transaction(config: dict, transactional_id: str, topic: str, value: bytes) -> None:
    producer = Producer({**config, "transactional.id": transactional_id, "transaction.timeout.ms": 30000})
    producer.init_transactions(20)
    producer.begin_transaction()
    producer.produce(topic, value)
    producer.commit_transaction(20)


def test_kafka_addon_user_sees_and_changes_only_its_own(lab):
    server = lab_kafka.admin_record(lab.lab)
    if server is None:
        pytest.skip("this lab runs without Kafka (PLATYKUS_LAB_CONTROLLERS does not name kafka)")
    mine, theirs = _pair(lab, "iso-kafka", "kafka")
    my, their = mine["database"], theirs["database"]
    me = kafka_client_config(server, mine["user"], mine["password"])
    them = kafka_client_config(server, theirs["user"], theirs["password"])
    produce(them, their + "events", b"theirs")
    assert consume_one(them, their + "events", their + "readers") == b"theirs"
    root = AdminClient(kafka_client_config(server, server["user"], server["password"]))
    # An older release gave no transactional ids: the next run adds them (and nothing else changes).
    tx_acls = [a for a in desired_acls(mine["user"]) if a.resource == "TRANSACTIONAL_ID"]
    query = AclBindingFilter(
        ResourceType.TRANSACTIONAL_ID, None, ResourcePatternType.ANY, "User:" + mine["user"], None,
        AclOperation.ANY, AclPermissionType.ANY,
    )  # fmt: skip
    for future in root.delete_acls([query], request_timeout=15).values():
        future.result(timeout=15)
    _rerun(lab, "iso-kafka", "kafka")
    held = root.describe_acls(query, request_timeout=15).result(timeout=15)
    assert sorted(b.operation.name for b in held) == sorted(a.operation for a in tx_acls) == ["DESCRIBE", "WRITE"]

    admin = AdminClient(me)
    # What the user sees: its own topics and groups only.
    produce(me, my + "events", b"mine")
    assert consume_one(me, my + "events", my + "readers") == b"mine"  # and acme's group exists
    topics = set(admin.list_topics(timeout=15).topics)
    assert topics and all(name.startswith(my) for name in topics), topics
    groups = {g.group_id for g in admin.list_consumer_groups(request_timeout=15).result(timeout=15).valid}
    assert groups and all(name.startswith(my) for name in groups), groups
    # What it may not read or change: the other's topic and group, the cluster's configs, ACLs and users.
    their_topic = ConfigResource("TOPIC", their + "events")
    broker = ConfigResource("BROKER", str(lab_kafka.NODE_ID))
    wide_open = ConfigResource(
        "BROKER", str(lab_kafka.NODE_ID),
        incremental_configs=[ConfigEntry("log.retention.ms", "-1", incremental_operation=AlterConfigOpType.SET)],
    )  # fmt: skip
    every_acl = AclBindingFilter(
        ResourceType.ANY, None, ResourcePatternType.ANY, None, None, AclOperation.ANY, AclPermissionType.ANY
    )
    grant_me = AclBinding(
        ResourceType.TOPIC, their, ResourcePatternType.PREFIXED, "User:" + mine["user"], "*", AclOperation.READ,
        AclPermissionType.ALLOW,
    )  # fmt: skip
    attacks = {
        "describe the other's topic": lambda: admin.describe_configs([their_topic]),
        "describe the broker's configs": lambda: admin.describe_configs([broker]),
        "alter the broker's configs": lambda: admin.incremental_alter_configs([wide_open]),
        "grant itself the other's topic": lambda: admin.create_acls([grant_me], request_timeout=15),
        "describe the other's group": lambda: admin.describe_consumer_groups([their + "readers"], request_timeout=15),
        "delete the other's group": lambda: admin.delete_consumer_groups([their + "readers"], request_timeout=15),
        "delete the other's topic": lambda: admin.delete_topics([their + "events"], operation_timeout=15),
    }
    for what, call in attacks.items():
        _kafka_refused(what, call)
    # The ACLs and SCRAM users, asked with kafka-python: confluent-kafka 2.x answers an unauthorized
    # DescribeAcls with an empty list, and aborts the process on DescribeUserScramCredentials' refusal.
    assert admin.describe_acls(every_acl, request_timeout=15).result(timeout=15) == []
    wire = _kafka_python_admin(server, mine)
    try:
        any_acl = ACLFilter(
            principal=None, host="*", operation=ACLOperation.ANY, permission_type=ACLPermissionType.ANY,
            resource_pattern=ResourcePatternFilter(KafkaResourceType.ANY, None, ACLResourcePatternType.ANY),
        )  # fmt: skip
        with pytest.raises(kafka_errors.ClusterAuthorizationFailedError):
            wire.describe_acls(any_acl)
        with pytest.raises(kafka_errors.ClusterAuthorizationFailedError):
            wire.describe_user_scram_credentials([theirs["user"]])
    finally:
        wire.close()
    with pytest.raises(KafkaException) as refused:
        _transaction(me, their + "tx", my + "events", b"x")
    assert refused.value.args[0].name() == "TRANSACTIONAL_ID_AUTHORIZATION_FAILED"

    # acme's add-on still works, transactions included (committed reads).
    _transaction(me, my + "tx", my + "events", b"committed")
    reader = Consumer({**me, "group.id": my + "committed", "auto.offset.reset": "earliest",
                       "isolation.level": "read_committed"})  # fmt: skip
    reader.subscribe([my + "events"])
    try:
        seen = []
        deadline = time.monotonic() + 30
        while b"committed" not in seen and time.monotonic() < deadline:
            message = reader.poll(1.0)
            if message is not None and not message.error():
                seen.append(message.value())
        assert b"committed" in seen, seen
    finally:
        reader.close()
    # initech's topic and group are untouched.
    assert their + "events" in root.list_topics(timeout=15).topics
    described = root.describe_consumer_groups([their + "readers"], request_timeout=15)[their + "readers"]
    assert described.result(timeout=15).group_id == their + "readers"
    produce(them, their + "events", b"still")
