# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``local`` provider: shared PostgreSQL, MariaDB and Redis servers the lab runs on 127.0.0.1.

Each add-on gets its own database and login role (PostgreSQL: CONNECT revoked from PUBLIC, so no
other add-on's user can open it), its own database and user with rights on it only (MariaDB), or
its own ACL user whose keys and channels are ``<ident>:*`` only, with the commands that reach
every key (KEYS, SCAN, FLUSHALL, ...) removed (Redis). Connection limits follow the plan's
``connections``, so a resize changes them.

The admin records come from the lab (``<lab>/controllers/<server>/admin.json``, see
lab/platykus_lab/dataservices.py). Client libraries: psycopg, PyMySQL, redis (requirements.txt).
Every method that writes takes ``check_mode`` and then only predicts.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ansible_collections.platykus.platform.plugins.module_utils._addon_providers import (
    LOCAL_SERVERS,
    AddonRef,
    register,
)
from ansible_collections.platykus.platform.plugins.module_utils._errors import PlatykusError

try:
    import psycopg
    from psycopg import sql
except ImportError:  # pragma: no cover - reported when a PostgreSQL add-on is requested
    psycopg = None
try:
    import pymysql
except ImportError:  # pragma: no cover
    pymysql = None
try:
    import redis
except ImportError:  # pragma: no cover
    redis = None

ADMIN_FILE = "admin.json"
TIMEOUT = 10
# Commands a Redis add-on user may not run: those that see or wipe every key, and the server's admin.
REDIS_DENIED = "-@all +@read +@write +@string +@hash +@list +@set +@sortedset +@stream +@bitmap +@hyperloglog +@geo " \
    "+@pubsub +@transaction +@connection +@scripting -@dangerous -@admin -keys -scan -randomkey -select -swapdb -move -migrate"  # fmt: skip


def load_servers(folder: str | os.PathLike | None) -> dict[str, dict[str, Any]]:
    """Every ``<folder>/<server>/admin.json`` the lab wrote, by server name (missing folder: none)."""
    found: dict[str, dict[str, Any]] = {}
    if not folder:
        return found
    for server in sorted(set(LOCAL_SERVERS.values())):
        path = Path(folder) / server / ADMIN_FILE
        if path.is_file():
            try:
                found[server] = json.loads(path.read_text())
            except (OSError, ValueError) as err:
                raise PlatykusError("servers: cannot read %s (%s); restart the lab's %s" % (path, err, server)) from err
    return found


def _need(library: Any, name: str) -> None:
    if library is None:
        raise PlatykusError(
            "the Python library '%s' is required for this add-on type; pip install -r requirements.txt" % name
        )


def _url(scheme: str, addon: AddonRef, server: Mapping[str, Any], password: str, path: str) -> str:
    return "%s://%s:%s@%s:%s/%s" % (scheme, addon.ident, quote(password, safe=""), server["host"], server["port"], path)


class _Base:
    scheme = ""

    def __init__(self, server: Mapping[str, Any]) -> None:
        self.server = dict(server)

    def _where(self, addon: AddonRef) -> str:
        return "%s add-on '%s' of tenant '%s' on %s:%s" % (
            addon.type,
            addon.name,
            addon.tenant,
            self.server.get("host"),
            self.server.get("port"),
        )

    def credentials(self, addon: AddonRef, password: str) -> dict[str, str]:
        database = self._database(addon)
        return {
            "host": str(self.server["host"]),
            "port": str(self.server["port"]),
            "user": addon.ident,
            "password": password,
            "database": database,
            "url": _url(self.scheme, addon, self.server, password, database if self.scheme != "redis" else "0"),
        }

    def _database(self, addon: AddonRef) -> str:
        return addon.ident


# -- PostgreSQL ---------------------------------------------------------------------------------


class PostgresProvider(_Base):
    scheme = "postgresql"

    def _admin(self, dbname: str = "postgres"):
        _need(psycopg, "psycopg")
        try:
            return psycopg.connect(
                host=self.server["host"], port=self.server["port"], user=self.server["user"],
                password=self.server["password"], dbname=dbname, connect_timeout=TIMEOUT, autocommit=True,
            )  # fmt: skip
        except psycopg.Error as err:
            raise PlatykusError("Failed to reach the lab's PostgreSQL as its admin: %s" % str(err).strip()) from err

    def _state(self, conn, addon: AddonRef) -> tuple[int | None, bool]:
        row = conn.execute("SELECT rolconnlimit FROM pg_roles WHERE rolname = %s", (addon.ident,)).fetchone()
        has_db = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (addon.ident,)).fetchone() is not None
        return (row[0] if row else None), has_db

    def _password_works(self, addon: AddonRef, password: str) -> bool:
        try:
            with psycopg.connect(
                host=self.server["host"], port=self.server["port"], user=addon.ident, password=password,
                dbname=addon.ident, connect_timeout=TIMEOUT,
            ):  # fmt: skip
                return True
        except psycopg.OperationalError:
            return False

    def exists(self, addon: AddonRef) -> bool:
        with self._admin() as conn:
            limit, has_db = self._state(conn, addon)
        return limit is not None or has_db

    def ensure(self, addon: AddonRef, password: str, check_mode: bool) -> bool:
        role = sql.Identifier(addon.ident)
        limit = int(addon.plan_spec.get("connections") or -1)
        with self._admin() as conn:
            current, has_db = self._state(conn, addon)
            steps: list[Any] = []
            if current is None:
                steps.append(
                    sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} CONNECTION LIMIT {}").format(
                        role, sql.Literal(password), sql.Literal(limit)
                    )
                )
            elif current != limit:
                steps.append(sql.SQL("ALTER ROLE {} CONNECTION LIMIT {}").format(role, sql.Literal(limit)))
            if not has_db:
                steps.append(sql.SQL("CREATE DATABASE {} OWNER {}").format(role, role))
                steps.append(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(role))
            if current is not None and has_db and not self._password_works(addon, password):
                steps.append(sql.SQL("ALTER ROLE {} PASSWORD {}").format(role, sql.Literal(password)))
            elif current is not None and not has_db:
                steps.append(sql.SQL("ALTER ROLE {} PASSWORD {}").format(role, sql.Literal(password)))
            if check_mode or not steps:
                return bool(steps)
            try:
                for step in steps:
                    conn.execute(step)
            except psycopg.Error as err:
                raise PlatykusError(
                    "Failed to create %s: %s" % (self._where(addon), err.diag.message_primary or type(err).__name__)
                ) from err
        return True

    def remove(self, addon: AddonRef, check_mode: bool) -> bool:
        role = sql.Identifier(addon.ident)
        with self._admin() as conn:
            current, has_db = self._state(conn, addon)
            if check_mode or (current is None and not has_db):
                return current is not None or has_db
            try:
                if has_db:
                    conn.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (addon.ident,)
                    )
                    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(role))
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(role))
            except psycopg.Error as err:
                raise PlatykusError(
                    "Failed to remove %s: %s" % (self._where(addon), err.diag.message_primary or type(err).__name__)
                ) from err
        return True


# -- MariaDB / MySQL ----------------------------------------------------------------------------


class MysqlProvider(_Base):
    scheme = "mysql"

    def _connect(self, user: str, password: str, database: str | None = None):
        _need(pymysql, "PyMySQL")
        return pymysql.connect(
            host=self.server["host"], port=int(self.server["port"]), user=user, password=password,
            database=database, connect_timeout=TIMEOUT, autocommit=True,
        )  # fmt: skip

    def _admin(self):
        try:
            return self._connect(self.server["user"], self.server["password"])
        except pymysql.MySQLError as err:
            raise PlatykusError("Failed to reach the lab's MariaDB as its admin: %s" % err.args[-1]) from err

    def _state(self, cur, addon: AddonRef) -> tuple[int | None, bool]:
        cur.execute("SELECT max_user_connections FROM mysql.user WHERE User = %s AND Host = '%%'", (addon.ident,))
        row = cur.fetchone()
        cur.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (addon.ident,))
        return (int(row[0]) if row else None), cur.fetchone() is not None

    def _password_works(self, addon: AddonRef, password: str) -> bool:
        try:
            self._connect(addon.ident, password, addon.ident).close()
            return True
        except pymysql.MySQLError:
            return False

    def exists(self, addon: AddonRef) -> bool:
        conn = self._admin()
        try:
            current, has_db = self._state(conn.cursor(), addon)
        finally:
            conn.close()
        return current is not None or has_db

    def ensure(self, addon: AddonRef, password: str, check_mode: bool) -> bool:
        limit = int(addon.plan_spec.get("connections") or 0)
        ident = addon.ident
        conn = self._admin()
        try:
            cur = conn.cursor()
            current, has_db = self._state(cur, addon)
            steps: list[tuple[str, tuple]] = []
            if not has_db:
                steps.append(("CREATE DATABASE `%s` CHARACTER SET utf8mb4" % ident, ()))
            if current is None:
                steps.append(
                    ("CREATE USER %s@'%%' IDENTIFIED BY %s WITH MAX_USER_CONNECTIONS " + str(limit), (ident, password))
                )
            else:
                if current != limit:
                    steps.append(("ALTER USER %s@'%%' WITH MAX_USER_CONNECTIONS " + str(limit), (ident,)))
                if not has_db or not self._password_works(addon, password):
                    steps.append(("ALTER USER %s@'%%' IDENTIFIED BY %s", (ident, password)))
            if current is None or not has_db:
                steps.append(("GRANT ALL PRIVILEGES ON `%s`.* TO %%s@'%%%%'" % ident, (ident,)))
            if check_mode or not steps:
                return bool(steps)
            for statement, args in steps:
                cur.execute(statement, args)
        except pymysql.MySQLError as err:
            raise PlatykusError("Failed to create %s: %s" % (self._where(addon), err.args[-1])) from err
        finally:
            conn.close()
        return True

    def remove(self, addon: AddonRef, check_mode: bool) -> bool:
        conn = self._admin()
        try:
            cur = conn.cursor()
            current, has_db = self._state(cur, addon)
            if check_mode or (current is None and not has_db):
                return current is not None or has_db
            cur.execute("DROP DATABASE IF EXISTS `%s`" % addon.ident)
            cur.execute("DROP USER IF EXISTS %s@'%%'", (addon.ident,))
        except pymysql.MySQLError as err:
            raise PlatykusError("Failed to remove %s: %s" % (self._where(addon), err.args[-1])) from err
        finally:
            conn.close()
        return True


# -- Redis --------------------------------------------------------------------------------------


class RedisProvider(_Base):
    scheme = "redis"

    def _database(self, addon: AddonRef) -> str:
        """Redis has no databases per user: the add-on's keys are those under this prefix."""
        return "%s:" % addon.ident

    def _admin(self):
        _need(redis, "redis")
        return redis.Redis(
            host=self.server["host"], port=int(self.server["port"]), username=self.server["user"],
            password=self.server["password"], socket_timeout=TIMEOUT, decode_responses=True,
        )  # fmt: skip

    def _user(self, client, addon: AddonRef) -> dict | None:
        try:
            return client.acl_getuser(addon.ident)
        except redis.RedisError as err:
            raise PlatykusError("Failed to reach the lab's Redis as its admin: %s" % err) from err

    def exists(self, addon: AddonRef) -> bool:
        client = self._admin()
        try:
            return self._user(client, addon) is not None
        finally:
            client.close()

    def _rules(self, addon: AddonRef, password: str) -> list[str]:
        prefix = "%s:*" % addon.ident
        return ["reset", "on", ">%s" % password, "~%s" % prefix, "&%s" % prefix, *REDIS_DENIED.split()]

    def ensure(self, addon: AddonRef, password: str, check_mode: bool) -> bool:
        client = self._admin()
        try:
            user = self._user(client, addon)
            digest = hashlib.sha256(password.encode()).hexdigest()
            prefix = "%s:*" % addon.ident
            good = (
                user is not None
                and "on" in (user.get("flags") or [])
                and list(user.get("passwords") or []) == [digest]
                and _patterns(user.get("keys")) == ["~%s" % prefix]
                and _patterns(user.get("channels")) == ["&%s" % prefix]
            )
            if good or check_mode:
                return not good
            client.execute_command("ACL", "SETUSER", addon.ident, *self._rules(addon, password))
            client.execute_command("ACL", "SAVE")
        except redis.RedisError as err:
            raise PlatykusError("Failed to create %s: %s" % (self._where(addon), err)) from err
        finally:
            client.close()
        return True

    def remove(self, addon: AddonRef, check_mode: bool) -> bool:
        client = self._admin()
        try:
            user = self._user(client, addon)
            keys = list(client.scan_iter(match="%s:*" % addon.ident, count=500))
            if check_mode or (user is None and not keys):
                return user is not None or bool(keys)
            for start in range(0, len(keys), 500):
                client.unlink(*keys[start : start + 500])
            if user is not None:
                client.execute_command("ACL", "DELUSER", addon.ident)
                client.execute_command("ACL", "SAVE")
        except redis.RedisError as err:
            raise PlatykusError("Failed to remove %s: %s" % (self._where(addon), err)) from err
        finally:
            client.close()
        return True


def _patterns(value: Any) -> list[str]:
    """ACL GETUSER's keys/channels: a list in some versions, one space-separated string in others."""
    if isinstance(value, str):
        return value.split()
    return [str(v) for v in value or []]


register("local", "postgresql", PostgresProvider)
register("local", "mysql", MysqlProvider)
register("local", "redis", RedisProvider)
