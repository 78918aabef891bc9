"""`platykus-lab build|up|down|status|env`."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

from . import aws, controllers, images, kafka
from .build import build, missing_binaries
from .cluster import Lab, LabError
from .config import LabConfigError, bin_dir, node_pools_from_inventory

# `status` exits with this when the lab runs but a part of it is unhealthy (2 is a usage or lab error).
NOT_READY = 3


def _lab_options(after_command: bool) -> argparse.ArgumentParser:
    """--name and --home, accepted before the subcommand and again after it.

    After the subcommand the defaults are SUPPRESS: an option left out there must not overwrite
    the value given before the subcommand (argparse copies a subparser's defaults over it).
    """
    options = argparse.ArgumentParser(add_help=False)
    name_default = argparse.SUPPRESS if after_command else os.environ.get("PLATYKUS_LAB", "default")
    home_default = argparse.SUPPRESS if after_command else None
    options.add_argument(
        "--name", default=name_default, help="lab name; labs with different names run side by side (env PLATYKUS_LAB)"
    )
    options.add_argument(
        "--home",
        default=home_default,
        help="state folder of the lab (default: $PLATYKUS_LAB_HOME/<name>, ~/.local/state/platykus/labs/<name>)",
    )
    return options


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="platykus-lab", description=__doc__, parents=[_lab_options(after_command=False)]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_build = sub.add_parser("build", help="build the pinned binaries (cached; rebuilt only when a pin changes)")
    p_build.add_argument("--force", action="store_true")
    lab_options = _lab_options(after_command=True)
    p_up = sub.add_parser(
        "up", parents=[lab_options], help="start the lab, or repair it (idempotent), and create its simulated nodes"
    )
    p_up.add_argument(
        "--inventory", help="inventory whose group_vars/all sets platykus_lab_node_pools (default: 3 x m5.xlarge)"
    )
    p_up.add_argument("--timeout", type=float, default=120.0)
    p_down = sub.add_parser("down", parents=[lab_options], help="stop every lab process")
    p_down.add_argument("--purge", action="store_true", help="also delete the lab's data, PKI and logs")
    p_status = sub.add_parser(
        "status", parents=[lab_options], help=f"what runs where and whether it is healthy (exit {NOT_READY} if not)"
    )
    p_status.add_argument("--json", action="store_true")
    sub.add_parser("env", parents=[lab_options], help='print shell exports for the lab (eval "$(platykus-lab env)")')
    p_image = sub.add_parser("image", help="load OCI image archives into the lab's real nodes, or list their images")
    image_sub = p_image.add_subparsers(dest="action", required=True)
    p_load = image_sub.add_parser("load", parents=[lab_options], help="import OCI archives into every real node")
    p_load.add_argument("archives", nargs="+", help="OCI archives (platykus_lab.images.write_oci_archive)")
    image_sub.add_parser("list", parents=[lab_options], help="the images of the lab's real nodes")
    return parser


def _lab(args: argparse.Namespace) -> Lab:
    home = Path(args.home) if args.home else None
    return Lab.named(args.name, binaries=bin_dir(), home=home)


def _up(lab: Lab, args: argparse.Namespace) -> int:
    inventory = Path(args.inventory) if args.inventory else None
    pools = node_pools_from_inventory(inventory)
    if missing_binaries(lab.binaries):
        build()
    result = lab.up(pools, timeout=args.timeout, inventory=inventory)
    print(f"export KUBECONFIG={shlex.quote(result['kubeconfig'])}")
    return 0


def _down(lab: Lab, args: argparse.Namespace) -> int:
    lab.down(purge=args.purge)
    return 0


def _status(lab: Lab, args: argparse.Namespace) -> int:
    status = lab.status()
    if args.json:
        print(json.dumps(status, indent=2))
    else:
        print(f"lab {status['name']} ({'ready' if status['ready'] else 'not ready'}) at {status['server'] or '-'}")
        print(f"  kubeconfig: {status['kubeconfig']}")
        for name, info in status["components"].items():
            state = f"pid {info['pid']}" if info["pid"] else "stopped"
            health = "healthy" if info["healthy"] else f"UNHEALTHY: {info['problem']}"
            print(f"  {name:<24} {state:<12} port {info['port'] or '-':<6} {health}; log {info['log']}")
        for name, info in status.get("controllers", {}).items():
            state = f"pid {info['pid']}" if info["pid"] else "stopped"
            ports = ",".join(str(port) for port in info["ports"].values()) or "-"
            health = "healthy" if not info["problem"] else f"UNHEALTHY: {info['problem']}"
            print(f"  {name:<24} {state:<12} port {ports:<6} {health}; log {info['log']}")
        for node, ready in sorted(status["nodes"].items()):
            print(f"  node {node:<20} {ready}")
        if not status["ready"]:
            print("  not ready; `platykus-lab up` (with the --inventory the lab was started with) repairs it")
    return 0 if status["ready"] else NOT_READY


def _env(lab: Lab, args: argparse.Namespace) -> int:
    print(f"export KUBECONFIG={shlex.quote(str(lab.kubeconfig_path))}")
    print(f"export K8S_AUTH_KUBECONFIG={shlex.quote(str(lab.kubeconfig_path))}")
    print(f'export PATH={shlex.quote(str(lab.binaries))}:"$PATH"')
    # The lab's AWS (endpoint, region, the lab admin's keys), once `up` has started it.
    for key, value in aws.env_exports(lab).items():
        print(f"export {key}={shlex.quote(value)}")
    # The lab's Kafka: its bootstrap address and the path of its admin record (never the password).
    for key, value in kafka.env_exports(lab).items():
        print(f"export {key}={shlex.quote(value)}")
    # The data services' admin records (<name>/admin.json), read by the add-ons' local provider.
    print(f"export PLATYKUS_DATA_SERVICES={shlex.quote(str(lab.home / 'controllers'))}")
    return 0


def _image(lab: Lab, args: argparse.Namespace) -> int:
    if args.action == "list":
        print("\n".join(images.list_images(lab)))
        return 0
    for archive in args.archives:
        print(f"{archive}: loaded {', '.join(images.load(lab, Path(archive)))}")
    return 0


COMMANDS = {"up": _up, "down": _down, "status": _status, "env": _env, "image": _image}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "build":
            # The Kubernetes binaries, then the platform controllers (each cached by its own pin).
            build(force=args.force)
            controllers.build_all(force=args.force)
            return 0
        return COMMANDS[args.command](_lab(args), args)
    except (LabError, LabConfigError, controllers.ControllerError, images.ImageError) as err:
        print(f"platykus-lab: {err}", file=sys.stderr)
        return 2
