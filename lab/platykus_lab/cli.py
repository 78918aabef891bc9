"""`platykus-lab build|up|down|status|env`."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

from .build import build, missing_binaries
from .cluster import Lab, LabError
from .config import LabConfigError, bin_dir, node_pools_from_inventory


def _lab(args: argparse.Namespace) -> Lab:
    home = Path(args.home) if args.home else None
    return Lab.named(args.name, binaries=bin_dir(), home=home)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="platykus-lab", description=__doc__)
    parser.add_argument("--name", default=os.environ.get("PLATYKUS_LAB", "default"), help="lab name; labs with different names run side by side (env PLATYKUS_LAB)")
    parser.add_argument("--home", help="state folder of the lab (default: $PLATYKUS_LAB_HOME/<name>, ~/.local/state/platykus/labs/<name>)")
    sub = parser.add_subparsers(dest="command", required=True)
    p_build = sub.add_parser("build", help="build the pinned binaries (cached; rebuilt only when a pin changes)")
    p_build.add_argument("--force", action="store_true")
    p_up = sub.add_parser("up", help="start the lab (idempotent) and create its simulated nodes")
    p_up.add_argument("--inventory", help="inventory whose group_vars/all sets platykus_lab_node_pools (default: 3 x m5.xlarge)")
    p_up.add_argument("--timeout", type=float, default=120.0)
    p_down = sub.add_parser("down", help="stop every lab process")
    p_down.add_argument("--purge", action="store_true", help="also delete the lab's data, PKI and logs")
    p_status = sub.add_parser("status", help="what runs where")
    p_status.add_argument("--json", action="store_true")
    sub.add_parser("env", help="print shell exports for the lab (eval \"$(platykus-lab env)\")")
    args = parser.parse_args(argv)

    try:
        if args.command == "build":
            build(force=args.force)
            return 0
        lab = _lab(args)
        if args.command == "up":
            pools = node_pools_from_inventory(Path(args.inventory) if args.inventory else None)
            if missing_binaries(lab.binaries):
                build()
            result = lab.up(pools, timeout=args.timeout)
            print(f"export KUBECONFIG={shlex.quote(result['kubeconfig'])}")
            return 0
        if args.command == "down":
            lab.down(purge=args.purge)
            return 0
        if args.command == "status":
            status = lab.status()
            if args.json:
                print(json.dumps(status, indent=2))
            else:
                print(f"lab {status['name']} ({'ready' if status['ready'] else 'not ready'}) at {status['server'] or '-'}")
                print(f"  kubeconfig: {status['kubeconfig']}")
                for name, info in status["components"].items():
                    state = f"pid {info['pid']}" if info["pid"] else "stopped"
                    print(f"  {name:<24} {state:<12} port {info['port'] or '-':<6} log {info['log']}")
                for node, ready in sorted(status["nodes"].items()):
                    print(f"  node {node:<20} {ready}")
            return 0 if status["ready"] else 3
        if args.command == "env":
            print(f"export KUBECONFIG={shlex.quote(str(lab.kubeconfig_path))}")
            print(f"export K8S_AUTH_KUBECONFIG={shlex.quote(str(lab.kubeconfig_path))}")
            print(f"export PATH={shlex.quote(str(lab.binaries))}:\"$PATH\"")
            return 0
    except (LabError, LabConfigError) as err:
        print(f"platykus-lab: {err}", file=sys.stderr)
        return 2
    return 1
