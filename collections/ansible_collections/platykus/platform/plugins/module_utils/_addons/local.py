# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``local`` provider: shared PostgreSQL, MariaDB and Redis servers the lab runs on 127.0.0.1.

Each add-on gets its own database and login role (PostgreSQL: every database of the server,
``postgres`` and ``template1`` included, closed to PUBLIC, the add-on's own open to its role, and
schema public closed to PUBLIC in it), its own database and user with rights on it only, granted on
the escaped name (MariaDB: ``_`` and ``%`` are GRANT wildcards), or its own ACL user whose keys and
channels are ``<ident>:*`` only and whose commands are those _addons.redis_acl derives from the server's
metadata (Redis: nothing server-wide). Each run repairs an add-on an older release left looser.
Connection limits follow the plan's ``connections``, so a resize changes them.

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

from ansible_collections.platykus.platform.plugins.module_utils._addons.providers import (
    LOCAL_SERVERS,
    AddonRef,
    register,
)
from ansible_collections.platykus.platform.plugins.module_utils._addons.redis_acl import rules as redis_rules
from ansible_collections.platykus.platform.plugins.module_utils._addons.redis_acl import (
    user_matches as redis_user_matches,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError

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


def public_holds(acl: list[str] | None) -> bool:
    """Does an ACL (aclitem[] as text) give PUBLIC anything? NULL is the default, which does."""
    return acl is None or any(item.startswith("=") for item in acl)


def _role_connects(acl: list[str] | None, role: str) -> bool:
    for item in acl or []:
        grantee, rights = item.split("=", 1) if "=" in item else (item, "")
        if grantee.strip('"') == role and "c" in rights.split("/", 1)[0]:
            return True
    return False


def database_grant_fixes(rows: list[tuple[str, list[str] | None]], own: str) -> list[tuple[str, str]]:
    """(database, action) making every connectable database closed to PUBLIC and the add-on's own
    open to its role: ``revoke-public`` (REVOKE ALL ... FROM PUBLIC) and ``grant-own``, sorted."""
    fixes = [(name, "revoke-public") for name, acl in rows if public_holds(acl)]
    fixes += [(name, "grant-own") for name, acl in rows if name == own and not _role_connects(acl, own)]
    return sorted(fixes)


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

    def _grant_steps(self, conn, addon: AddonRef, has_db: bool) -> list[Any]:
        """The server-wide part: no database of the server open to PUBLIC (postgres, template1,
        every add-on's), the add-on's own open to its role."""
        rows = conn.execute("SELECT datname, datacl::text[] FROM pg_database WHERE datallowconn").fetchall()
        if not has_db:  # about to be made, owned by the role (REVOKE follows the CREATE)
            rows = [*rows, (addon.ident, ["%s=CTc/%s" % (addon.ident, addon.ident), "=Tc/%s" % addon.ident])]
        steps: list[Any] = []
        for database, action in database_grant_fixes(rows, addon.ident):
            if action == "revoke-public":
                steps.append(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(database)))
            else:
                steps.append(
                    sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(
                        sql.Identifier(database), sql.Identifier(addon.ident)
                    )
                )
        return steps

    def _schema_open(self, addon: AddonRef, has_db: bool) -> bool:
        """Does PUBLIC hold a right on the add-on database's schema public? (a new database: yes)"""
        if not has_db:
            return True
        with self._admin(addon.ident) as conn:
            row = conn.execute("SELECT nspacl::text[] FROM pg_namespace WHERE nspname = 'public'").fetchone()
        return row is not None and public_holds(row[0])

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
            if current is not None and has_db and not self._password_works(addon, password):
                steps.append(sql.SQL("ALTER ROLE {} PASSWORD {}").format(role, sql.Literal(password)))
            elif current is not None and not has_db:
                steps.append(sql.SQL("ALTER ROLE {} PASSWORD {}").format(role, sql.Literal(password)))
            steps += self._grant_steps(conn, addon, has_db)
            schema = self._schema_open(addon, has_db)
            if check_mode or not (steps or schema):
                return bool(steps) or schema
            try:
                for step in steps:
                    conn.execute(step)
                if schema:
                    with self._admin(addon.ident) as own:
                        own.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
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


def grant_pattern(database: str) -> str:
    """A database name as GRANT reads it: ``_`` and ``%`` are wildcards there, so they are escaped
    (a grant on ``acme_db`` would also cover ``acmeXdb``, databases the user could then create)."""
    return database.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")


def _quoted(pattern: str) -> str:
    """A backtick-quoted identifier for a statement PyMySQL formats (``%`` doubled)."""
    return "`%s`" % pattern.replace("`", "``").replace("%", "%%")


def grant_fixes(granted: list[str], database: str) -> tuple[list[str], bool]:
    """(patterns to revoke, grant needed): the user keeps one grant, on its own database only."""
    wanted = grant_pattern(database)
    return sorted(p for p in granted if p != wanted), wanted not in granted


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

    def _grants(self, cur, addon: AddonRef) -> list[str]:
        """The database patterns the user holds privileges on (mysql.db, as GRANT wrote them)."""
        cur.execute("SELECT Db FROM mysql.db WHERE User = %s AND Host = '%%'", (addon.ident,))
        return [row[0] for row in cur.fetchall()]

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
            revoke, grant = grant_fixes(self._grants(cur, addon) if current is not None else [], ident)
            for pattern in revoke:
                steps.append(("REVOKE ALL PRIVILEGES ON %s.* FROM %%s@'%%%%'" % _quoted(pattern), (ident,)))
            if grant:
                steps.append(("GRANT ALL PRIVILEGES ON %s.* TO %%s@'%%%%'" % _quoted(grant_pattern(ident)), (ident,)))
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

    def ensure(self, addon: AddonRef, password: str, check_mode: bool) -> bool:
        client = self._admin()
        try:
            user = self._user(client, addon)
            digest = hashlib.sha256(password.encode()).hexdigest()
            good = redis_user_matches(user, addon.ident, digest)
            if good or check_mode:
                return not good
            client.execute_command("ACL", "SETUSER", addon.ident, *redis_rules(addon.ident, password))
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


register("local", "postgresql", PostgresProvider)
register("local", "mysql", MysqlProvider)
register("local", "redis", RedisProvider)
