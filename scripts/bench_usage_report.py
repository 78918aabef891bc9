#!/usr/bin/env python3
"""Benchmark: usage_report over 10,000 pods beside `kubectl get pods -A -o json`.

Starts its own lab (``bench-usage``: 20 simulated m5.4xlarge nodes with room for 1,000 pods each),
creates the pods directly through the API in parallel (bound to the nodes by ``spec.nodeName``, so
kwok marks them Running without waiting for the scheduler) in 200 namespaces labelled as 50 tenants,
then times, in the same run, several repetitions each of:

* ``kubectl get pods -A -o json`` (the baseline: one paged LIST of the same pods, decoded);
* the module's logic called directly (``_cost.collect.usage_report`` with a ``KubeClient``);
* the module through Ansible (``ansible localhost -m platykus.platform.usage_report``).

Prints a Markdown table of the medians and ratios.

    .venv/bin/python scripts/bench_usage_report.py [--pods 10000] [--namespaces 200] [--repeat 5] [--keep-lab]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "lab"), str(ROOT / "collections")]

from ansible_collections.platykus.platform.plugins.module_utils._core.kube import KubeClient, client_factory  # noqa: E402
from ansible_collections.platykus.platform.plugins.module_utils._cost.collect import usage_report  # noqa: E402
from platykus_lab.cluster import Lab  # noqa: E402
from platykus_lab.config import bin_dir, parse_node_pools  # noqa: E402

LAB_INVENTORY = ROOT / "inventories" / "lab"
SHARED_VARS = ROOT / "vars"  # what every inventory shares (the shared_defaults vars plugin)
NODES = 20
POOL = {
    "name": "bench",
    "count": NODES,
    "instance_type": "m5.4xlarge",
    "zones": ["us-east-1a", "us-east-1b", "us-east-1c"],
    "capacity": {"cpu": "1000", "memory": "4000Gi", "pods": "1000"},
}


def pod(namespace: str, index: int) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p%05d" % index, "namespace": namespace, "labels": {"app": "bench"}},
        "spec": {
            "nodeName": "bench-%d" % (index % NODES),
            "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
            "tolerations": [{"operator": "Exists"}],
            "containers": [
                {
                    "name": "c",
                    "image": "example/bench",
                    "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                    "resources": {
                        "requests": {"cpu": "%dm" % (50 + index % 7 * 50), "memory": "%dMi" % (64 + index % 5 * 64)}
                    },
                }
            ],
        },
    }


def populate(client: KubeClient, pods: int, namespaces: int) -> None:
    names = ["bench-%03d" % i for i in range(namespaces)]
    for i, name in enumerate(names):
        client.apply_one(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "name": name,
                    "labels": {"platykus.io/tenant": "t%02d" % (i % 50), "platykus.io/environment": "dev"},
                },
            }
        )
    # Pods are admitted only once the namespace's default ServiceAccount exists.
    while (
        sum(
            1
            for _ in client.iter_list("v1", "ServiceAccount", field_selector="metadata.name=default")
            if _["metadata"]["namespace"].startswith("bench-")
        )
        < namespaces
    ):
        time.sleep(1)
    have = {p["metadata"]["name"] for p in client.iter_list("v1", "Pod", label_selector="app=bench")}
    todo = [(names[i % namespaces], i) for i in range(pods) if "p%05d" % i not in have]
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=16) as workers:
        list(workers.map(lambda item: client.create(pod(*item)), todo))
    print("created %d pods in %.1f s" % (len(todo), time.perf_counter() - start), file=sys.stderr)
    deadline = time.monotonic() + 600
    while True:
        running = sum(
            1 for p in client.iter_list("v1", "Pod", label_selector="app=bench", field_selector="status.phase=Running")
        )
        if running >= pods:
            return
        if time.monotonic() > deadline:
            raise SystemExit("only %d of %d pods Running after 10 minutes" % (running, pods))
        print("%d of %d pods Running" % (running, pods), file=sys.stderr)
        time.sleep(5)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(cmd: list[str], env: dict) -> None:
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True)
    if proc.returncode != 0:
        raise SystemExit(
            "%s failed:\n%s\n%s" % (" ".join(cmd[:4]), proc.stdout[-2000:].decode(), proc.stderr[-2000:].decode())
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods", type=int, default=10000)
    parser.add_argument("--namespaces", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep-lab", action="store_true")
    args = parser.parse_args()

    lab = Lab.named("bench-usage", binaries=bin_dir())
    kubeconfig = lab.up(parse_node_pools([POOL]), log=lambda m: print(m, file=sys.stderr))["kubeconfig"]
    env = dict(
        os.environ,
        KUBECONFIG=kubeconfig,
        K8S_AUTH_KUBECONFIG=kubeconfig,
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        PATH="%s:%s:%s" % (lab.binaries, ROOT / ".venv/bin", os.environ["PATH"]),
    )
    try:
        client = KubeClient.from_kubeconfig(kubeconfig)
        populate(client, args.pods, args.namespaces)
        prices = yaml.safe_load((SHARED_VARS / "prices.yml").read_text())["platykus_prices"]
        now = datetime.now(UTC).replace(microsecond=0)
        end = (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        # Reported as if an hour from now (the pods keep running): a window may not end after `now`.
        params = {
            "prices": prices,
            "tenants": [],
            "platform_namespaces": ["kube-system"],
            "kubeconfig": kubeconfig,
            "window_start": (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "window_end": end,
            "now": end,
        }
        kubectl = [str(lab.binaries / "kubectl"), "get", "pods", "-A", "-o", "json"]
        adhoc = [
            str(ROOT / ".venv/bin/ansible"),
            "localhost",
            "-i",
            str(LAB_INVENTORY),
            "-m",
            "platykus.platform.usage_report",
            "-a",
            json.dumps(params),
            "-o",
        ]
        report = usage_report(params, client_factory(params))
        pods_counted = round(sum(ns["core_hours"] for ns in report["namespaces"]), 1)
        times: dict[str, list[float]] = {"kubectl": [], "direct": [], "ansible": []}
        for _ in range(args.repeat):  # interleaved, so load on the machine hits every side alike
            times["kubectl"].append(timed(lambda: run(kubectl, env)))
            times["direct"].append(timed(lambda: usage_report(params, client_factory(params))))
            times["ansible"].append(timed(lambda: run(adhoc, env)))
        med = {key: statistics.median(values) for key, values in times.items()}
        print(
            "pods %d in %d namespaces; report core-hours %s; %d repetitions, interleaved"
            % (args.pods, args.namespaces, pods_counted, args.repeat)
        )
        print()
        print("| what | median | min | max | ratio to kubectl |")
        print("| --- | ---: | ---: | ---: | ---: |")
        labels = {
            "kubectl": "`kubectl get pods -A -o json`",
            "direct": "usage_report logic (module_utils, in-process)",
            "ansible": "`ansible -m platykus.platform.usage_report` (ad hoc)",
        }
        for key in ("kubectl", "direct", "ansible"):
            print(
                "| %s | %.2f s | %.2f s | %.2f s | %.2f× |"
                % (labels[key], med[key], min(times[key]), max(times[key]), med[key] / med["kubectl"])
            )
    finally:
        if not args.keep_lab:
            lab.down(purge=True, log=lambda m: print(m, file=sys.stderr))
    return 0


if __name__ == "__main__":
    sys.exit(main())
