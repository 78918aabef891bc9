# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kafka add-ons, the pure part: names, the ACL table, ACL bindings as rendered, credentials."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._addons import kafka
from ansible_collections.platykus.platform.plugins.module_utils._addons.providers import AddonRef, factory
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError

SERVER = {"host": "127.0.0.1", "port": 19092, "user": "platykus-lab-admin", "password": "admin-secret"}


def addon(tenant="acme", name="events"):
    return AddonRef(tenant, name, "kafka", "acme-prod", "basic-0", {})


def test_desired_acls_cover_only_the_addons_prefix():
    acls = kafka.desired_acls("acme_events_1a2b3c4d")
    assert acls == sorted(acls)
    assert {acl.name for acl in acls} == {"acme_events_1a2b3c4d."}
    assert {acl.principal for acl in acls} == {"User:acme_events_1a2b3c4d"}
    assert {(acl.pattern, acl.permission, acl.host) for acl in acls} == {("PREFIXED", "ALLOW", "*")}
    by_resource = {}
    for acl in acls:
        by_resource.setdefault(acl.resource, set()).add(acl.operation)
    # Nothing on the cluster, and no ALL: the operations are listed one by one.
    # No CREATE, DELETE or ALTER_CONFIGS on topics: the platform makes them to the plan.
    assert by_resource == {
        "TOPIC": {"READ", "WRITE", "DESCRIBE", "DESCRIBE_CONFIGS"},
        "GROUP": {"READ", "DESCRIBE", "DELETE"},
        "TRANSACTIONAL_ID": {"WRITE", "DESCRIBE"},
    }


def test_acl_bindings_render_as_prefixed_allow_bindings_and_read_back_equal():
    pytest.importorskip("confluent_kafka")
    from confluent_kafka.admin import AclBinding, AclBindingFilter, AclOperation, ResourcePatternType, ResourceType

    acl = kafka.desired_acls("acme_events_1a2b3c4d")[0]
    binding = kafka._binding(acl)
    assert isinstance(binding, AclBinding)
    assert (binding.restype, binding.name, binding.resource_pattern_type) == (
        ResourceType.GROUP,
        "acme_events_1a2b3c4d.",
        ResourcePatternType.PREFIXED,
    )
    assert binding.operation == AclOperation.DELETE
    assert kafka._acl(binding) == acl
    assert isinstance(kafka._binding(acl, AclBindingFilter), AclBindingFilter)


@pytest.mark.parametrize(
    "desired, actual, expected",
    [
        (["a", "b"], [], (["a", "b"], [])),
        (["a", "b"], ["a", "b"], ([], [])),
        (["a"], ["a", "x"], ([], ["x"])),
        ([], ["x"], ([], ["x"])),
    ],
)
def test_acl_changes_keep_exactly_the_desired_ones(desired, actual, expected):
    def make(names):
        return [kafka.Acl("TOPIC", "p.", "User:p", op) for op in names]

    assert kafka.acl_changes(make(desired), make(actual)) == tuple(make(names) for names in expected)


def test_a_stray_acl_of_another_kind_is_not_mistaken_for_a_desired_one():
    desired = kafka.desired_acls("p_q_12345678")
    literal = kafka.Acl("TOPIC", "p_q_12345678.", "User:p_q_12345678", "READ", pattern="LITERAL")
    deny = kafka.Acl("TOPIC", "p_q_12345678.", "User:p_q_12345678", "READ", permission="DENY")
    create, delete = kafka.acl_changes(desired, [*desired, literal, deny])
    assert create == [] and delete == sorted([literal, deny])


@pytest.mark.parametrize("user", ["", "Acme", "a.b", "a-b", "_a", "a" * 49, "a b", "a=b", "a,b", None])
def test_bad_user_names_are_refused_with_the_field(user):
    with pytest.raises(PlatykusError) as err:
        kafka.validate_user(user)
    assert err.value.field == "name"
    assert "1-48 characters" in str(err.value)


def test_owned_names_are_those_under_the_dotted_prefix():
    names = ["acme_ev_1.orders", "acme_ev_1x.orders", "acme_ev_1", "other.acme_ev_1.x", "acme_ev_1.a"]
    assert kafka.owned(names, "acme_ev_1") == ["acme_ev_1.a", "acme_ev_1.orders"]


def test_credentials_need_no_broker_and_quote_the_password():
    provider = kafka.KafkaLocalProvider(SERVER)
    ref = addon()
    creds = provider.credentials(ref, "p@ss/word:1")
    assert set(creds) == {"host", "port", "user", "password", "database", "url"}
    assert creds["user"] == ref.ident and creds["database"] == ref.ident + "."
    assert (creds["host"], creds["port"], creds["password"]) == ("127.0.0.1", "19092", "p@ss/word:1")
    url = urlsplit(creds["url"])
    assert (url.scheme, url.hostname, url.port, url.username) == ("kafka", "127.0.0.1", 19092, ref.ident)
    assert unquote(url.password) == "p@ss/word:1"
    assert parse_qs(url.query) == {
        "security_protocol": ["SASL_PLAINTEXT"],
        "sasl_mechanism": ["SCRAM-SHA-512"],
        "topic_prefix": [ref.ident + "."],
    }


def test_client_config_prefers_the_records_bootstrap():
    config = kafka.client_config({**SERVER, "bootstrap": "127.0.0.1:1"}, "u", "p")
    assert config["bootstrap.servers"] == "127.0.0.1:1"
    assert (config["sasl.mechanism"], config["security.protocol"]) == ("SCRAM-SHA-512", "SASL_PLAINTEXT")
    assert kafka.client_config(SERVER, "u", "p")["bootstrap.servers"] == "127.0.0.1:19092"


@pytest.mark.parametrize("missing", ["host", "port", "user", "password"])
def test_an_incomplete_admin_record_is_refused_naming_the_key(missing):
    record = {k: v for k, v in SERVER.items() if k != missing}
    with pytest.raises(PlatykusError) as err:
        kafka.KafkaLocalProvider(record)
    assert err.value.field == "servers.kafka.%s" % missing
    assert "admin-secret" not in str(err.value)


def test_the_provider_is_registered_for_local_kafka():
    assert factory("local", "kafka") is kafka.KafkaLocalProvider


def test_an_empty_password_is_refused_before_any_call():
    provider = kafka.KafkaLocalProvider(SERVER)
    with pytest.raises(PlatykusError) as err:
        provider.ensure(addon(), "", check_mode=False)
    assert err.value.field == "password"
