"""The data services the lab runs for the add-ons' `local` provider: PostgreSQL, MariaDB and Redis
from Debian's packages, each a shared server on 127.0.0.1 with its data under the lab's folder.

`python -m platykus_lab.dataservices <postgresql|mariadb|redis> --workdir W --port P` initialises
the data folder on first start, then runs the server as its child until SIGTERM (forwarded as the
server's fast shutdown). The admin credentials are made once per lab and kept in
`<lab>/controllers/<name>/admin.json` (mode 0600): host, port, user, password; the collection's
`_addons.local.load_servers` reads them (PLATYKUS_DATA_SERVICES, exported by `platykus-lab env`).

With real nodes (lab/platykus_lab/node.py), each server also listens on the machine's end of the
first real node's link (10.252.<slot>.1, a local address of the machine that every pod routes to),
and the admin record's `host` is that address: add-on URLs made from it work from inside pods and
from the machine alike. Without real nodes, 127.0.0.1 only, as before.

PostgreSQL refuses to run as root: as root, the server runs in a user namespace where the lab's
uid is an ordinary one (`unshare --user --map-user`), so it still owns its folder inside the lab.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import secrets
import signal
import subprocess
import sys
from pathlib import Path

from .controller_run import Context, controller

PG_BIN = Path("/usr/lib/postgresql/15/bin")
ADMIN_FILE = "admin.json"
ADMIN_USER = "platykus_admin"
HOST = "127.0.0.1"
# The account whose uid/gid the servers take inside their user namespace when the lab runs as root
# (PostgreSQL looks its name up): the Debian package's, else nobody.
NAMESPACE_USERS = ("postgres", "nobody")


def admin_record(workdir: Path) -> dict:
    path = workdir / ADMIN_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def pod_host(ctx: Context) -> str | None:
    """The address pods reach the machine at (the first real node's machine end), if the lab has one."""
    from .node import RealNodes

    nets = RealNodes(ctx.lab).nets()
    return nets[0].host_ip if nets else None


def _write_admin(ctx: Context, kind: str) -> None:
    """Keep the password, record today's port and addresses; readable by the lab's user only."""
    record = admin_record(ctx.workdir)
    reachable = pod_host(ctx)
    record.update(
        {
            "kind": kind,
            "host": reachable or HOST,
            "bind": [HOST, reachable] if reachable else [HOST],
            "port": ctx.own["server"],
            "user": ADMIN_USER,
            "password": record.get("password") or secrets.token_urlsafe(24),
        }
    )
    path = ctx.workdir / ADMIN_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(record, handle)
    os.chmod(path, 0o600)


def _binds(record: dict) -> list[str]:
    return list(record.get("bind") or [HOST])


def _args(kind: str):
    def args(ctx: Context) -> list[str]:
        return [kind, "--workdir", str(ctx.workdir), "--port", str(ctx.own["server"])]

    return args


def _prepare(kind: str):
    def prepare(ctx: Context) -> None:
        _write_admin(ctx, kind)

    return prepare


def _health(kind: str):
    def check(ctx: Context) -> str | None:
        record = admin_record(ctx.workdir)
        try:
            _login(kind, record)
        except Exception as err:  # noqa: BLE001 - any client error means "not ready yet", reported as text
            return f"{kind} on {record.get('host', HOST)}:{ctx.own.get('server')} does not accept the admin login yet: {type(err).__name__}"
        return None

    return check


def _login(kind: str, record: dict) -> None:
    """Log in as the admin and run a trivial query (the client libraries of requirements.txt)."""
    if kind == "postgresql":
        import psycopg

        with psycopg.connect(
            host=record["host"], port=record["port"], user=record["user"], password=record["password"],
            dbname="postgres", connect_timeout=3,
        ) as conn:  # fmt: skip
            conn.execute("SELECT 1")
    elif kind == "mariadb":
        import pymysql

        conn = pymysql.connect(
            host=record["host"], port=record["port"], user=record["user"], password=record["password"],
            connect_timeout=3,
        )  # fmt: skip
        conn.cursor().execute("SELECT 1")
        conn.close()
    else:
        import redis

        client = redis.Redis(
            host=record["host"], port=record["port"], username=record["user"], password=record["password"],
            socket_timeout=3,
        )  # fmt: skip
        client.ping()
        client.close()


for _kind in ("postgresql", "mariadb", "redis"):
    controller(
        _kind, namespace=None, ports=("server",), args=_args(_kind), health=_health(_kind), prepare=_prepare(_kind)
    )


# ------------------------------------------------------------------------------ the launcher
def _as_ordinary_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    for name in NAMESPACE_USERS:
        try:
            account = pwd.getpwnam(name)
        except KeyError:
            continue
        return ["unshare", "--user", f"--map-user={account.pw_uid}", f"--map-group={account.pw_gid}", *cmd]
    raise SystemExit("PostgreSQL cannot run as root and neither a postgres nor a nobody account exists")


# Where pods' connections come from when the server listens for them (lab/platykus_lab/node.py):
# the nodes' links 10.252.<slot>.0/24 and pod ranges 10.<248+i>.<slot>.0/24.
POD_SOURCES = ("10.252.0.0/16", "10.248.0.0/14")


def _allow_pods(hba: Path, record: dict) -> None:
    """pg_hba.conf (initdb allows loopback only) also lets pods log in, by password, when they can reach it."""
    lines = [line for line in hba.read_text().splitlines() if not line.endswith("# platykus-lab pods")]
    if len(_binds(record)) > 1:
        lines += [f"host all all {net} scram-sha-256  # platykus-lab pods" for net in POD_SOURCES]
    hba.write_text("\n".join(lines) + "\n")


def _postgresql(workdir: Path, port: int, record: dict) -> tuple[list[str], int]:
    data = workdir / "data"
    if not (data / "PG_VERSION").exists():
        pwfile = workdir / ".initpw"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(record["password"])
        try:
            subprocess.run(
                _as_ordinary_user(
                    [str(PG_BIN / "initdb"), "-D", str(data), "-U", record["user"], f"--pwfile={pwfile}",
                     "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"]
                ),
                check=True, stdout=sys.stdout, stderr=sys.stderr,
            )  # fmt: skip
        finally:
            pwfile.unlink(missing_ok=True)
    _allow_pods(data / "pg_hba.conf", record)
    cmd = [
        str(PG_BIN / "postgres"), "-D", str(data), "-p", str(port), "-h", ",".join(_binds(record)),
        "-c", "unix_socket_directories=", "-c", "max_connections=200",
        "-c", "password_encryption=scram-sha-256", "-c", "fsync=off",
    ]  # fmt: skip
    return _as_ordinary_user(cmd), signal.SIGINT  # fast shutdown: do not wait for clients


def _mariadb(workdir: Path, port: int, record: dict) -> tuple[list[str], int]:
    data = workdir / "data"
    if not (data / "mysql").is_dir():
        subprocess.run(
            ["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=root",
             "--auth-root-authentication-method=socket", "--skip-test-db"],
            check=True, stdout=sys.stdout, stderr=sys.stderr,
        )  # fmt: skip
    # Run at every start: the admin exists with today's password (the file is the lab user's only).
    init = workdir / "init.sql"
    fd = os.open(init, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    password = record["password"].replace("\\", "\\\\").replace("'", "\\'")
    with os.fdopen(fd, "w") as handle:
        handle.write(
            f"CREATE USER IF NOT EXISTS '{record['user']}'@'%' IDENTIFIED BY '{password}';\n"
            f"ALTER USER '{record['user']}'@'%' IDENTIFIED BY '{password}';\n"
            f"GRANT ALL PRIVILEGES ON *.* TO '{record['user']}'@'%' WITH GRANT OPTION;\n"
            "DELETE FROM mysql.global_priv WHERE User='';\nFLUSH PRIVILEGES;\n"
        )
    cmd = [
        "/usr/sbin/mariadbd", "--no-defaults", f"--datadir={data}", f"--port={port}", f"--bind-address={','.join(_binds(record))}",
        f"--socket={workdir / 'mysqld.sock'}", f"--pid-file={workdir / 'mysqld.pid'}", "--user=root",
        f"--init-file={init}", "--skip-name-resolve", f"--log-error={workdir / 'error.log'}",
        "--innodb-buffer-pool-size=32M", "--performance-schema=OFF",
    ]  # fmt: skip
    return cmd, signal.SIGTERM


def _redis(workdir: Path, port: int, record: dict) -> tuple[list[str], int]:
    data = workdir / "data"
    data.mkdir(exist_ok=True)
    acl = workdir / "users.acl"
    lines = [line for line in (acl.read_text().splitlines() if acl.exists() else []) if line.strip()]
    # The default user is off; the admin is (re)written with today's password; add-on users stay.
    keep = [line for line in lines if line.split()[1] not in ("default", record["user"])]
    admin = f"user {record['user']} on >{record['password']} ~* &* +@all"
    fd = os.open(acl, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(["user default off", admin, *keep]) + "\n")
    conf = workdir / "redis.conf"
    conf.write_text(
        f"port {port}\nbind {' '.join(_binds(record))}\nprotected-mode yes\ndir {data}\naclfile {acl}\n"
        'daemonize no\nsave 60 1\nappendonly no\nlogfile ""\n'
    )
    return ["/usr/bin/redis-server", str(conf)], signal.SIGTERM


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m platykus_lab.dataservices", description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=("postgresql", "mariadb", "redis"))
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    record = admin_record(args.workdir)
    if not record.get("password"):
        print(f"{args.workdir / ADMIN_FILE} holds no admin password; start the server with platykus-lab up")
        return 2
    cmd, stop_signal = {"postgresql": _postgresql, "mariadb": _mariadb, "redis": _redis}[args.kind](
        args.workdir, args.port, record
    )
    child = subprocess.Popen(cmd, stdout=sys.stdout, stderr=sys.stderr, cwd=args.workdir)

    def stop(_signum, _frame) -> None:
        if child.poll() is None:
            child.send_signal(stop_signal)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return child.wait()


if __name__ == "__main__":
    raise SystemExit(main())
