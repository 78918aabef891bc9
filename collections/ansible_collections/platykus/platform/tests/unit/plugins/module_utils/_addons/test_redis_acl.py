# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Redis add-on ACL: the derivation rules on server metadata, the rendered rules, the comparison."""

from __future__ import annotations

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._addons import redis_acl as acl


def entry(name, categories, keys=False, subs=()):
    """One COMMAND reply entry as Redis 7.0 sends it (RESP2): name, arity, flags, first/last/step,
    categories, tips, key specs, subcommands."""
    specs = [["flags", ["RW"], "begin_search", ["type", "index", "spec", ["index", 1]]]] if keys else []
    return [name, -2, ["fast"], 1 if keys else 0, 1 if keys else 0, 1 if keys else 0,
            ["@%s" % c for c in categories], [], specs, list(subs)]  # fmt: skip


def doc(group, *arguments, subs=None):
    fields = ["summary", "s", "group", group, "arguments", [["name", a, "type", "integer"] for a in arguments]]
    if subs:
        fields += ["subcommands", subs]
    return fields


COMMAND = [
    entry("get", ["read", "string", "fast"], keys=True),
    entry("eval", ["slow", "scripting"], keys=True),
    entry("keys", ["keyspace", "read", "slow", "dangerous"]),
    entry("flushall", ["keyspace", "write", "slow", "dangerous"]),
    entry("scan", ["keyspace", "read", "slow"]),
    entry("dbsize", ["keyspace", "read", "fast"]),
    entry("select", ["fast", "connection"]),
    entry("move", ["keyspace", "write", "fast"], keys=True),
    entry("copy", ["keyspace", "write", "slow"], keys=True),
    entry("lindex", ["read", "list", "slow"], keys=True),
    entry("ping", ["fast", "connection"]),
    entry("multi", ["fast", "transaction"]),
    entry("subscribe", ["pubsub", "slow"]),
    entry("time", ["fast"]),
    entry("function", ["slow"], subs=[entry("function|flush", ["write", "slow", "scripting"])]),
    entry("script", ["slow"], subs=[entry("script|flush", ["slow", "scripting"]),
                                    entry("script|load", ["slow", "scripting"])]),
    entry("pubsub", ["slow"], subs=[entry("pubsub|channels", ["pubsub", "slow"])]),
    entry("client", ["slow"], subs=[entry("client|setname", ["slow", "connection"]),
                                    entry("client|tracking", ["slow", "connection"]),
                                    entry("client|kill", ["admin", "slow", "dangerous", "connection"])]),
    entry("config", ["slow"], subs=[entry("config|set", ["admin", "slow", "dangerous"])]),
]  # fmt: skip
DOCS = [
    "select", doc("connection", "index"),
    "move", doc("generic", "key", "db"),
    "copy", doc("generic", "source", "destination", "destination-db", "replace"),
    "lindex", doc("list", "key", "index"),
    "client", doc("connection", subs=["client|setname", doc("connection", "connection-name")]),
]  # fmt: skip

EXPECTED = {
    "get": "grant", "eval": "grant", "lindex": "grant", "ping": "grant", "multi": "grant", "subscribe": "grant",
    "client|setname": "grant", "script|load": "grant",
    "keys": "server-wide category @dangerous", "flushall": "server-wide category @dangerous",
    "client|kill": "server-wide category @admin", "config|set": "server-wide category @admin",
    "select": "takes a database number", "move": "takes a database number", "copy": "takes a database number",
    "client|tracking": acl.UNCHECKED["client|tracking"],
}  # fmt: skip
KEYLESS = ("scan", "dbsize", "time", "function|flush", "script|flush", "pubsub|channels")


def test_each_command_is_judged_by_the_rules():
    commands = {c.name: c for c in acl.parse(COMMAND, DOCS)}
    assert "client" not in commands and "function" not in commands  # containers are never granted whole
    for name, verdict in EXPECTED.items():
        assert acl.verdict(commands[name]) == verdict, name
    for name in KEYLESS:
        assert acl.verdict(commands[name]).startswith("keyless"), name
    assert acl.derive(commands.values()) == tuple(sorted(n for n, v in EXPECTED.items() if v == "grant"))


def test_docs_parsed_by_a_client_as_dicts_give_the_same_verdicts():
    as_dict = {"select": {"group": "connection", "arguments": [{"name": "index", "type": "integer"}]}}
    (select,) = [c for c in acl.parse(COMMAND, as_dict) if c.name == "select"]
    assert acl.verdict(select) == "takes a database number"


@pytest.mark.parametrize(
    "name",
    ["function|flush", "function|load", "function|delete", "script|flush", "script|kill", "flushall", "flushdb",
     "keys", "scan", "randomkey", "dbsize", "swapdb", "select", "move", "copy", "config|get", "config|set",
     "debug", "info", "monitor", "client|list", "client|kill", "client|tracking", "pubsub|channels", "acl|setuser",
     "shutdown", "save", "bgsave", "migrate", "sort", "object|help", "memory|stats", "cluster|nodes", "time"],
)  # fmt: skip
def test_the_checked_in_list_denies_server_wide_commands(name):
    assert name not in acl.COMMANDS


@pytest.mark.parametrize(
    "name",
    ["get", "set", "del", "hset", "lpush", "zadd", "xadd", "xreadgroup", "expire", "eval", "evalsha", "script|load",
     "publish", "subscribe", "psubscribe", "unsubscribe", "ping", "hello", "auth", "multi", "exec", "watch",
     "client|setname", "sscan", "hscan", "zscan"],
)  # fmt: skip
def test_the_checked_in_list_keeps_what_an_app_uses(name):
    assert name in acl.COMMANDS


def test_rules_render_deny_all_then_each_command_and_the_prefix():
    rules = acl.rules("acme_cache_1a2b3c4d", "s3cret", ["get", "client|setname"])
    assert rules == ["reset", "on", ">s3cret", "~acme_cache_1a2b3c4d:*", "resetchannels", "&acme_cache_1a2b3c4d:*",
                     "-@all", "+get", "+client|setname"]  # fmt: skip
    default = acl.rules("acme_cache_1a2b3c4d", "s3cret")
    assert [
        r for r in default if r.startswith("+@") or r in ("allkeys", "allchannels", "allcommands", "~*", "&*")
    ] == []
    assert default[7:] == ["+%s" % name for name in acl.COMMANDS]


DIGEST = "ab" * 32


def user(**over):
    base = {
        "flags": ["on", "sanitize-payload"], "passwords": [DIGEST], "keys": "~acme:*", "channels": "&acme:*",
        "commands": " ".join(reversed(acl.DESCRIBED)), "selectors": [],
    }  # fmt: skip
    base.update(over)
    return base


@pytest.mark.parametrize(
    "changes, matches",
    [
        ({}, True),  # in any order
        ({"keys": ["~acme:*"], "channels": ["&acme:*"]}, True),  # lists, as other versions answer
        # redis-py's acl_getuser splits the rules into commands and categories
        ({"commands": [t for t in acl.DESCRIBED if "@" not in t],
          "categories": [t for t in acl.DESCRIBED if "@" in t]}, True),
        ({"commands": "-@all +@read +@write +@pubsub +@connection +@transaction +@scripting -@dangerous -@admin"}, False),
        ({"commands": user()["commands"] + " +flushall"}, False),
        ({"commands": " ".join(user()["commands"].split()[:-1])}, False),
        ({"channels": "&*"}, False),
        ({"keys": "~acme:* ~other:*"}, False),
        ({"flags": ["off"]}, False),
        ({"passwords": [DIGEST, "cd" * 32]}, False),
        ({"selectors": [{"commands": "+@all"}]}, False),
    ],
    ids=["same", "lists", "redis-py", "old-acl", "one-more", "one-less", "all-channels", "more-keys", "off", "two-passwords",
         "selector"],
)  # fmt: skip
def test_an_existing_user_is_rewritten_only_when_it_differs(changes, matches):
    assert acl.user_matches(user(**changes), "acme", DIGEST) is matches
    assert acl.user_matches(None, "acme", DIGEST) is False
