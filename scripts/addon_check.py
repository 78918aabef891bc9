#!/usr/bin/env python3
"""Log in to an add-on with the URL its Secret holds (read from stdin), write and read back.

    addon_check.py <postgresql|mysql|redis> <name>  < url

Prints "OK <type> <name>: wrote and read <value>" and exits 0, or says what failed and exits 1.
The URL (it carries the password) is never printed.
"""

from __future__ import annotations

import sys
import time
from urllib.parse import unquote, urlsplit


def check(kind: str, url: str, value: str) -> str:
    parts = urlsplit(url)
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    if kind == "postgresql":
        import psycopg

        with psycopg.connect(url, connect_timeout=10) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS platykus_check (k text PRIMARY KEY, v text)")
            conn.execute(
                "INSERT INTO platykus_check VALUES ('check', %s) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v", (value,)
            )
            return conn.execute("SELECT v FROM platykus_check WHERE k = 'check'").fetchone()[0]
    if kind == "mysql":
        import pymysql

        conn = pymysql.connect(
            host=parts.hostname, port=parts.port, user=user, password=password,
            database=parts.path.lstrip("/"), connect_timeout=10, autocommit=True,
        )  # fmt: skip
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS platykus_check (k VARCHAR(32) PRIMARY KEY, v TEXT)")
            cur.execute("REPLACE INTO platykus_check VALUES ('check', %s)", (value,))
            cur.execute("SELECT v FROM platykus_check WHERE k = 'check'")
            return cur.fetchone()[0]
    if kind == "redis":
        import redis

        client = redis.Redis.from_url(url, socket_timeout=10, decode_responses=True)
        key = "%s:platykus-check" % user  # the add-on's keys are <user>:*
        client.set(key, value)
        return client.get(key)
    raise SystemExit("addon_check: no check for %r add-ons" % kind)


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    kind, name = sys.argv[1], sys.argv[2]
    url = sys.stdin.read().strip()
    value = "written-%d" % time.time_ns()
    try:
        got = check(kind, url, value)
    except Exception as err:  # noqa: BLE001 - any client error is the answer; its text carries no URL
        print("FAILED %s %s: %s" % (kind, name, type(err).__name__))
        return 1
    if got != value:
        print("FAILED %s %s: read %r after writing %r" % (kind, name, got, value))
        return 1
    print("OK %s %s: wrote and read %s" % (kind, name, value))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
