# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Redis add-on user's ACL: the commands it may run, derived from the server's own metadata.

An add-on user gets ``-@all`` and then exactly the commands of :data:`COMMANDS`, its keys
``~<ident>:*`` and its channels ``resetchannels &<ident>:*``. :func:`derive` computes the command list
from what the server says about each command (``COMMAND`` for the ACL categories and key specs,
``COMMAND DOCS`` for the documentation group and arguments), every subcommand on its own. A
command is granted only when every object it names is checked by the server against the user's
patterns, or when it acts on the caller's own connection:

1. ``@admin`` or ``@dangerous``: denied. These are Redis's categories for server-wide administration
   (CONFIG, DEBUG, FLUSHALL, FLUSHDB, KEYS, SWAPDB, SORT, MIGRATE, CLIENT LIST/KILL, ACL, ...). No other
   category of ``ACL CAT`` is wholly server-wide: @keyspace and @scripting mix per-key commands with
   keyless ones, and are split by rule 4.
2. A command that takes a database number (a ``db``/``destination-db`` argument, or ``index`` of a
   connection/server command): denied. Key patterns hold in every database, but the add-on's data
   must stay in database 0, where removing the add-on finds it (SELECT, MOVE, COPY ... DB, SWAPDB).
3. :data:`UNCHECKED`: denied. Commands whose metadata reads per-connection but which the server does
   not check against the user's patterns; each was found by an attack on the pinned server, and the
   lab's test repeats it (tests/integration/test_addons_local.py).
4. A command with key specs: granted (the server checks every key against ``~<ident>:*``, also when
   a script's ``redis.call`` names it). Keyless: granted only in @connection or @transaction (the
   caller's own connection: PING, HELLO, MULTI, CLIENT SETNAME, ...) or as a top-level @pubsub command
   (PUBLISH/SUBSCRIBE/PSUBSCRIBE are checked against ``&<ident>:*``; UNSUBSCRIBE acts on the
   connection). Every other keyless command reaches the whole keyspace or server state and is denied:
   DBSIZE, RANDOMKEY, SCAN, FUNCTION *, SCRIPT FLUSH/KILL/EXISTS, MEMORY DOCTOR/STATS, CLUSTER *,
   PUBSUB * (the server does not check them against channels), TIME, ...
5. :data:`ALSO_GRANTED`: SCRIPT LOAD, which adds to the content-addressed script cache as every EVAL
   does (redis-py's ``register_script`` needs it); a script runs with the caller's ACL.

The list (and :data:`DESCRIBED`, how the server describes a user holding it, which ``ensure``
compares with the add-on user's ACL GETUSER) is computed once from the pinned server
(lab/controllers.yml: Debian's redis-server 7.0) and checked in: a reviewer sees every command an add-on gains, a newer server's new commands stay
denied until the list is regenerated, and no ACL depends on a probe at run time. Regenerate with
``python -m platykus_lab.redis_acl --write`` against the lab; the lab test fails while the checked-in
list differs from what the running server derives.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Rule 1: Redis's categories for commands that act on the whole server.
DENIED_CATEGORIES = ("admin", "dangerous")
# Rule 4: keyless commands that act on the caller's own connection.
CONNECTION_CATEGORIES = ("connection", "transaction")
# Rule 2: arguments (COMMAND DOCS) that name a database.
DB_ARGUMENTS = ("db", "destination-db")
DB_INDEX_ARGUMENTS = ("index", "index1", "index2")
DB_INDEX_GROUPS = ("connection", "server")
# Rule 3: found by attack on the pinned server; the lab test repeats each one.
UNCHECKED = {
    # BCAST (with any PREFIX) pushes the invalidation of every key written, whoever owns it.
    "client|tracking": "CLIENT TRACKING ON BCAST reports other users' key names (not checked against key patterns)",
}
# Rule 5: keyless commands granted although rule 4 would deny them, each for a client library.
ALSO_GRANTED = {
    # Adds to the content-addressed script cache, as every EVAL does; redis-py's Script
    # (register_script) loads with it after a NOSCRIPT. Flushing or killing stays denied.
    "script|load": "the script cache only grows by content (sha1), as with EVAL",
}


@dataclass(frozen=True)
class Command:
    """What the server says about one command or subcommand (``client|setname``)."""

    name: str
    categories: frozenset[str]
    has_keys: bool
    group: str = ""
    arguments: frozenset[str] = frozenset()
    subcommand: bool = False


def verdict(command: Command) -> str:
    """``grant``, or the rule that denies the command (a short reason, for the generator's report)."""
    if command.categories & set(DENIED_CATEGORIES):
        return "server-wide category @%s" % sorted(command.categories & set(DENIED_CATEGORIES))[0]
    if command.arguments & set(DB_ARGUMENTS) or (
        command.group in DB_INDEX_GROUPS and command.arguments & set(DB_INDEX_ARGUMENTS)
    ):
        return "takes a database number"
    if command.name in UNCHECKED:
        return UNCHECKED[command.name]
    if command.has_keys or command.name in ALSO_GRANTED:
        return "grant"
    if command.categories & set(CONNECTION_CATEGORIES):
        return "grant"
    if "pubsub" in command.categories and not command.subcommand:
        return "grant"
    return "keyless, not the caller's connection: the whole keyspace, server state or other clients"


def derive(commands: Iterable[Command]) -> tuple[str, ...]:
    """The granted command names, sorted."""
    return tuple(sorted(c.name for c in commands if verdict(c) == "grant"))


def _pairs(flat: list | dict) -> dict:
    """A RESP2 map (a flat key, value, ... list; or a dict a client parsed) as a dict with str keys."""
    if isinstance(flat, dict):
        return {_text(key): value for key, value in flat.items()}
    return {_text(flat[i]): flat[i + 1] for i in range(0, len(flat) - 1, 2)}


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _argument_names(arguments: list | None) -> set[str]:
    names: set[str] = set()
    for argument in arguments or []:
        fields = _pairs(argument)
        names.add(_text(fields.get("name", "")))
        names |= _argument_names(fields.get("arguments"))
    return names


def parse(command_reply: list, docs_reply: list) -> list[Command]:
    """Leaf commands from the raw (RESP2) replies of ``COMMAND`` and ``COMMAND DOCS``.

    A container (CLIENT, OBJECT, ...) is never granted whole: each subcommand is judged."""
    docs = _docs(docs_reply)
    found: list[Command] = []

    def walk(entry: list, subcommand: bool) -> None:
        name = _text(entry[0]).lower()
        subs = entry[9] if len(entry) > 9 else []
        if subs:
            for sub in subs:
                walk(sub, True)
            return
        doc = docs.get(name, {})
        found.append(
            Command(
                name=name,
                categories=frozenset(_text(c).lstrip("@") for c in entry[6]),
                has_keys=bool(entry[8]) if len(entry) > 8 else int(entry[3]) > 0,
                group=_text(doc.get("group", "")),
                arguments=frozenset(_argument_names(doc.get("arguments"))),
                subcommand=subcommand,
            )
        )

    for entry in command_reply:
        walk(entry, False)
    return sorted(found, key=lambda c: c.name)


def _docs(reply: list) -> dict[str, dict]:
    """COMMAND DOCS: name -> its fields, subcommands flattened in (``client|setname``)."""
    out: dict[str, dict] = {}
    for name, fields in _pairs(reply).items():
        doc = _pairs(fields)
        out[name.lower()] = doc
        subs = doc.get("subcommands")
        if subs:
            out.update(_docs(subs))
    return out


def rules(ident: str, password: str, commands: Iterable[str] | None = None) -> list[str]:
    """ACL SETUSER's rules for the add-on's user (the password as given: never logged)."""
    prefix = "%s:*" % ident
    granted = COMMANDS if commands is None else tuple(commands)
    return [
        "reset",
        "on",
        ">%s" % password,
        "~%s" % prefix,
        "resetchannels",
        "&%s" % prefix,
        "-@all",
        *("+%s" % name for name in granted),
    ]


def described(user: Mapping | None) -> set[str]:
    """The command rules ACL GETUSER describes: one string, or redis-py's ``commands`` and
    ``categories`` lists. Redis 7.0 describes from the user's command bitmap, not the rules as set:
    a category whose commands are all granted reads ``+@string``, then single commands."""
    tokens: set[str] = set()
    for field in ("commands", "categories"):
        value = (user or {}).get(field)
        tokens |= set(value.split() if isinstance(value, str) else [str(v) for v in value or []])
    return tokens


def command_rules_match(user: Mapping | None) -> bool:
    """Does the user's described command rules equal what the server describes for :func:`rules`?

    :data:`DESCRIBED` is that description, read from the pinned server when the list was
    generated (a user with :func:`rules`, then ACL GETUSER); the lab test checks it still holds."""
    return described(user) == set(DESCRIBED)


def user_matches(user: Mapping | None, ident: str, digest: str) -> bool:
    """Is the ACL user exactly what :func:`rules` makes (on, the one password, prefix, commands)?"""
    if user is None:
        return False
    prefix = "%s:*" % ident
    return (
        "on" in (user.get("flags") or [])
        and list(user.get("passwords") or []) == [digest]
        and _patterns(user.get("keys")) == ["~%s" % prefix]
        and _patterns(user.get("channels")) == ["&%s" % prefix]
        and command_rules_match(user)
        and not user.get("selectors")
    )


def _patterns(value) -> list[str]:
    """ACL GETUSER's keys/channels: a list in some versions, one space-separated string in others."""
    if isinstance(value, str):
        return value.split()
    return [str(v) for v in value or []]


# The checked-in derivation on redis-server 7.0.15 (lab/controllers.yml), regenerated by
# `python -m platykus_lab.redis_acl --write`. BEGIN COMMANDS
COMMANDS: tuple[str, ...] = (
    "append",
    "asking",
    "auth",
    "bitcount",
    "bitfield",
    "bitfield_ro",
    "bitop",
    "bitpos",
    "blmove",
    "blmpop",
    "blpop",
    "brpop",
    "brpoplpush",
    "bzmpop",
    "bzpopmax",
    "bzpopmin",
    "client|caching",
    "client|getname",
    "client|getredir",
    "client|help",
    "client|id",
    "client|info",
    "client|reply",
    "client|setname",
    "client|trackinginfo",
    "command|count",
    "command|docs",
    "command|getkeys",
    "command|getkeysandflags",
    "command|help",
    "command|info",
    "command|list",
    "decr",
    "decrby",
    "del",
    "discard",
    "dump",
    "echo",
    "eval",
    "eval_ro",
    "evalsha",
    "evalsha_ro",
    "exec",
    "exists",
    "expire",
    "expireat",
    "expiretime",
    "fcall",
    "fcall_ro",
    "geoadd",
    "geodist",
    "geohash",
    "geopos",
    "georadius",
    "georadius_ro",
    "georadiusbymember",
    "georadiusbymember_ro",
    "geosearch",
    "geosearchstore",
    "get",
    "getbit",
    "getdel",
    "getex",
    "getrange",
    "getset",
    "hdel",
    "hello",
    "hexists",
    "hget",
    "hgetall",
    "hincrby",
    "hincrbyfloat",
    "hkeys",
    "hlen",
    "hmget",
    "hmset",
    "hrandfield",
    "hscan",
    "hset",
    "hsetnx",
    "hstrlen",
    "hvals",
    "incr",
    "incrby",
    "incrbyfloat",
    "lcs",
    "lindex",
    "linsert",
    "llen",
    "lmove",
    "lmpop",
    "lpop",
    "lpos",
    "lpush",
    "lpushx",
    "lrange",
    "lrem",
    "lset",
    "ltrim",
    "memory|usage",
    "mget",
    "mset",
    "msetnx",
    "multi",
    "object|encoding",
    "object|freq",
    "object|idletime",
    "object|refcount",
    "persist",
    "pexpire",
    "pexpireat",
    "pexpiretime",
    "pfadd",
    "pfcount",
    "pfmerge",
    "ping",
    "psetex",
    "psubscribe",
    "pttl",
    "publish",
    "punsubscribe",
    "quit",
    "readonly",
    "readwrite",
    "rename",
    "renamenx",
    "reset",
    "rpop",
    "rpoplpush",
    "rpush",
    "rpushx",
    "sadd",
    "scard",
    "script|load",
    "sdiff",
    "sdiffstore",
    "set",
    "setbit",
    "setex",
    "setnx",
    "setrange",
    "sinter",
    "sintercard",
    "sinterstore",
    "sismember",
    "smembers",
    "smismember",
    "smove",
    "spop",
    "spublish",
    "srandmember",
    "srem",
    "sscan",
    "ssubscribe",
    "strlen",
    "subscribe",
    "substr",
    "sunion",
    "sunionstore",
    "sunsubscribe",
    "touch",
    "ttl",
    "type",
    "unlink",
    "unsubscribe",
    "unwatch",
    "wait",
    "watch",
    "xack",
    "xadd",
    "xautoclaim",
    "xclaim",
    "xdel",
    "xgroup|create",
    "xgroup|createconsumer",
    "xgroup|delconsumer",
    "xgroup|destroy",
    "xgroup|setid",
    "xinfo|consumers",
    "xinfo|groups",
    "xinfo|stream",
    "xlen",
    "xpending",
    "xrange",
    "xread",
    "xreadgroup",
    "xrevrange",
    "xsetid",
    "xtrim",
    "zadd",
    "zcard",
    "zcount",
    "zdiff",
    "zdiffstore",
    "zincrby",
    "zinter",
    "zintercard",
    "zinterstore",
    "zlexcount",
    "zmpop",
    "zmscore",
    "zpopmax",
    "zpopmin",
    "zrandmember",
    "zrange",
    "zrangebylex",
    "zrangebyscore",
    "zrangestore",
    "zrank",
    "zrem",
    "zremrangebylex",
    "zremrangebyrank",
    "zremrangebyscore",
    "zrevrange",
    "zrevrangebylex",
    "zrevrangebyscore",
    "zrevrank",
    "zscan",
    "zscore",
    "zunion",
    "zunionstore",
)
# How that server describes a user holding them (ACL GETUSER), compared by ensure.
DESCRIBED: tuple[str, ...] = (
    "+@bitmap",
    "+@blocking",
    "+@connection",
    "+@geo",
    "+@hash",
    "+@hyperloglog",
    "+@keyspace",
    "+@list",
    "+@pubsub",
    "+@set",
    "+@sortedset",
    "+@stream",
    "+@string",
    "+@transaction",
    "+command|count",
    "+command|docs",
    "+command|getkeys",
    "+command|getkeysandflags",
    "+command|help",
    "+command|info",
    "+command|list",
    "+eval",
    "+eval_ro",
    "+evalsha",
    "+evalsha_ro",
    "+fcall",
    "+fcall_ro",
    "+memory|usage",
    "+script|load",
    "-@all",
    "-client|kill",
    "-client|list",
    "-client|no-evict",
    "-client|pause",
    "-client|tracking",
    "-client|unblock",
    "-client|unpause",
    "-command",
    "-copy",
    "-dbsize",
    "-flushall",
    "-flushdb",
    "-keys",
    "-migrate",
    "-move",
    "-object|help",
    "-pfdebug",
    "-pfselftest",
    "-pubsub|channels",
    "-pubsub|numpat",
    "-pubsub|numsub",
    "-pubsub|shardchannels",
    "-pubsub|shardnumsub",
    "-randomkey",
    "-restore",
    "-restore-asking",
    "-scan",
    "-select",
    "-sort",
    "-sort_ro",
    "-swapdb",
    "-xgroup|help",
    "-xinfo|help",
)
# END COMMANDS
