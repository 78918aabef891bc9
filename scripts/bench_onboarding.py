#!/usr/bin/env python3
"""Benchmark: onboarding N tenants with tenant-onboarding.yml beside `kubectl apply --server-side`.

Both sides apply the identical objects (rendered by the collection's own module_utils) to the
same lab in the same run: Platykus to tenants named p<N>-<i>, kubectl to k<N>-<i>. Each side runs
once on an empty cluster (first run) and once more (no-op rerun). Prints a Markdown table.

    .venv/bin/python scripts/bench_onboarding.py [--sizes 1 10 50] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "lab"), str(ROOT / "collections")]

from ansible_collections.platykus.platform.plugins.module_utils._tenants.objects import render_tenant  # noqa: E402
from ansible_collections.platykus.platform.plugins.module_utils._tenants.spec import validate_tenants  # noqa: E402
from platykus_lab.cluster import Lab  # noqa: E402
from platykus_lab.config import bin_dir, parse_node_pools  # noqa: E402

LAB_INVENTORY = ROOT / "inventories" / "lab"
BENCH_PLAN = {
    "bench": {
        "cpu": "100m",
        "memory": "128Mi",
        "storage": "1Gi",
        "pods": 10,
        "default_request_cpu": "10m",
        "default_request_memory": "16Mi",
        "default_limit_cpu": "50m",
        "default_limit_memory": "64Mi",
    }
}


def tenant_spec(name: str) -> dict:
    return {
        "name": name,
        "owners": {"admin": [f"{name}-admins"], "developer": [f"{name}-devs"], "viewer": [f"{name}-viewers"]},
        "environments": ["dev"],
        "plan": "bench",
        "budget": {"monthly": 100, "currency": "USD"},
        "cost_center": "bench",
    }


def timed(cmd: list[str], env: dict, cwd: Path = ROOT) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])}... failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--repeat", type=int, default=3, help="no-op reruns per side (median reported)")
    parser.add_argument("--keep-lab", action="store_true")
    args = parser.parse_args()

    lab = Lab.named("bench-onboarding", binaries=bin_dir())
    pools = parse_node_pools(
        [
            {
                "name": "bench",
                "count": 3,
                "instance_type": "m5.4xlarge",
                "zones": ["us-east-1a", "us-east-1b", "us-east-1c"],
                "capacity": {"cpu": "16", "memory": "64Gi", "pods": "110"},
            }
        ]
    )
    kubeconfig = lab.up(pools, log=lambda m: print(m, file=sys.stderr))["kubeconfig"]
    env = dict(
        os.environ,
        KUBECONFIG=kubeconfig,
        K8S_AUTH_KUBECONFIG=kubeconfig,
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        PATH=f"{lab.binaries}:{ROOT / '.venv/bin'}:{os.environ['PATH']}",
    )
    kubectl = str(lab.binaries / "kubectl")
    work = Path(tempfile.mkdtemp(prefix="platykus-bench-"))
    rows = []
    try:
        for size in args.sizes:
            inventory = work / f"inv{size}"
            shutil.copytree(LAB_INVENTORY, inventory, ignore=shutil.ignore_patterns("tenants"))
            (inventory / "tenants").mkdir()
            overrides = {"platykus_tenant_plans": BENCH_PLAN, "platykus_tenant_capacity_policy": "warn"}
            (inventory / "group_vars/all/zz-bench.yml").write_text(yaml.safe_dump(overrides))
            for i in range(size):
                (inventory / "tenants" / f"p{size}-{i}.yml").write_text(yaml.safe_dump(tenant_spec(f"p{size}-{i}")))
            # kubectl gets the same objects, for tenants k<size>-<i>, rendered by the same code.
            ingress = yaml.safe_load((LAB_INVENTORY / "group_vars/all/cluster.yml").read_text())[
                "platykus_ingress_namespace"
            ]
            tenants = validate_tenants([tenant_spec(f"k{size}-{i}") for i in range(size)], BENCH_PLAN)
            objects = [obj for tenant in tenants for obj in render_tenant(tenant, ingress)]
            manifest = work / f"k{size}.json"
            manifest.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))

            playbook = [
                str(ROOT / ".venv/bin/ansible-playbook"),
                "-i",
                str(inventory),
                str(ROOT / "playbooks/tenant-onboarding.yml"),
            ]
            apply = [
                kubectl,
                "apply",
                "--server-side",
                "--field-manager=platykus",
                "--force-conflicts",
                "-f",
                str(manifest),
            ]
            first_p = timed(playbook, env)
            first_k = timed(apply, env)
            rerun_p = statistics.median(timed(playbook, env) for _ in range(args.repeat))
            rerun_k = statistics.median(timed(apply, env) for _ in range(args.repeat))
            rows.append((size, len(objects), first_p, first_k, rerun_p, rerun_k))
            print(
                f"N={size}: {len(objects)} objects; first {first_p:.2f}s vs {first_k:.2f}s; rerun {rerun_p:.2f}s vs {rerun_k:.2f}s",
                file=sys.stderr,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if not args.keep_lab:
            lab.down(purge=True, log=lambda m: print(m, file=sys.stderr))

    print(
        "| tenants | objects per side | Platykus first run | kubectl first run | ratio | Platykus rerun (no-op) | kubectl rerun | ratio |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for size, count, fp, fk, rp, rk in rows:
        print(
            f"| {size} | {count} | {fp:.2f} s | {fk:.2f} s | {fp / fk:.2f}× | {rp:.2f} s | {rk:.2f} s | {rp / rk:.2f}× |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
