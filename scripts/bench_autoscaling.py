#!/usr/bin/env python3
"""Time the lab's real autoscaling against its configured intervals (docs/benchmarks.md).

- usage change -> HPA scale-up: a Deployment at 100m of 500m requested (HPA target 50 %) is
  annotated to 900m; time until the Deployment asks for 4 replicas, and until 4 pods run.
- pending pod -> node Ready: a pod no node fits (nodeSelector on a NodePool); time until
  Karpenter's NodeClaim exists, its node is Ready, and the pod runs.

    .venv/bin/python scripts/bench_autoscaling.py [--repeat 3] [--lab bench-autoscale]

The floor is the configured intervals: metrics-server's resolution (two scrapes before a new
value shows), the HPA sync period, Karpenter's batch idle window.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "lab"))

from platykus_lab import metrics  # noqa: E402
from platykus_lab.cluster import Lab  # noqa: E402
from platykus_lab.config import bin_dir, node_pools_from_inventory  # noqa: E402

INVENTORY = ROOT / "inventories" / "lab"
NAMESPACE = "bench-autoscale"
POOL = "bench"


def kubectl(lab: Lab, *args: str, input: str | None = None) -> str:
    cmd = [str(lab.binaries / "kubectl"), f"--kubeconfig={lab.kubeconfig_path}", *args]
    return subprocess.run(cmd, input=input, capture_output=True, text=True, check=True).stdout


def apply(lab: Lab, *docs: dict) -> None:
    kubectl(lab, "apply", "-f", "-", input=yaml.safe_dump_all(docs))


def get(lab: Lab, *args: str) -> dict:
    return json.loads(kubectl(lab, "get", "-o", "json", *args))


def until(check, timeout: float = 300.0) -> float:
    """Seconds until check() is true (polled every 0.2 s)."""
    start = time.perf_counter()
    while not check():
        if time.perf_counter() - start > timeout:
            raise SystemExit("timed out")
        time.sleep(0.2)
    return time.perf_counter() - start


def deployment(name: str, replicas: int, cpu: str, annotations: dict, selector: dict | None = None) -> dict:
    pod = {"containers": [{"name": "app", "image": "example/app", "resources": {"requests": {"cpu": cpu}}}]}
    if selector:
        pod["nodeSelector"] = selector
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}, "annotations": annotations}, "spec": pod},
        },
    }


def running(lab: Lab, app: str) -> int:
    pods = get(lab, "pods", "-n", NAMESPACE, "-l", f"app={app}")["items"]
    return sum(1 for p in pods if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp"))


def hpa_round(lab: Lab, index: int) -> tuple[float, float]:
    name = f"web-{index}"
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": 1,
            "maxReplicas": 6,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}},
                }
            ],
        },
    }
    apply(lab, deployment(name, 1, "500m", {"kwok.x-k8s.io/usage-cpu": "100m"}), hpa)
    until(lambda: get(lab, "hpa", "-n", NAMESPACE, name).get("status", {}).get("currentMetrics"))
    kubectl(
        lab, "annotate", "pods", "-n", NAMESPACE, "-l", f"app={name}", "kwok.x-k8s.io/usage-cpu=900m", "--overwrite"
    )
    start = time.perf_counter()
    until(lambda: get(lab, "deployment", "-n", NAMESPACE, name)["spec"]["replicas"] == 4)
    decided = time.perf_counter() - start
    until(lambda: running(lab, name) == 4)
    return decided, time.perf_counter() - start


def karpenter_round(lab: Lab, index: int) -> tuple[float, float, float]:
    name = f"batch-{index}"
    selector = {"karpenter.sh/nodepool": POOL}
    start = time.perf_counter()
    apply(lab, deployment(name, 1, "3", {}, selector))

    def claims():
        return [
            c for c in get(lab, "nodeclaims")["items"] if c["metadata"]["labels"].get("karpenter.sh/nodepool") == POOL
        ]  # noqa: E731

    until(lambda: claims())
    claimed = time.perf_counter() - start
    ready = lambda n: any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions", []))  # noqa: E731
    until(lambda: any(ready(n) for n in get(lab, "nodes", "-l", f"karpenter.sh/nodepool={POOL}")["items"]))
    node_ready = time.perf_counter() - start
    until(lambda: running(lab, name) == 1)
    pod_running = time.perf_counter() - start
    kubectl(lab, "delete", "deployment", "-n", NAMESPACE, name)
    until(lambda: not claims())
    return claimed, node_ready, pod_running


def nodepool() -> list[dict]:
    return [
        {"apiVersion": "karpenter.kwok.sh/v1alpha1", "kind": "KWOKNodeClass", "metadata": {"name": POOL}},
        {
            "apiVersion": "karpenter.sh/v1",
            "kind": "NodePool",
            "metadata": {"name": POOL},
            "spec": {
                "template": {
                    "spec": {
                        "nodeClassRef": {"group": "karpenter.kwok.sh", "kind": "KWOKNodeClass", "name": POOL},
                        "requirements": [
                            {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["m5.xlarge"]}
                        ],
                    }
                },
                "disruption": {"consolidationPolicy": "WhenEmptyOrUnderutilized", "consolidateAfter": "0s"},
            },
        },
    ]


def row(name: str, values: list[float], floor: str) -> str:
    return f"| {name} | {statistics.median(values):.1f} s | {min(values):.1f} s | {max(values):.1f} s | {floor} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--lab", default="bench-autoscale")
    args = parser.parse_args()
    lab = Lab.named(args.lab, binaries=bin_dir())
    lab.up(node_pools_from_inventory(INVENTORY), log=lambda _m: None, inventory=INVENTORY, timeout=300)
    apply(lab, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}, *nodepool())
    hpa = [hpa_round(lab, i) for i in range(args.repeat)]
    karp = [karpenter_round(lab, i) for i in range(args.repeat)]
    lab.down(purge=True, log=lambda _m: None)
    print(f"| step ({args.repeat} runs) | median | min | max | configured floor |")
    print("| --- | ---: | ---: | ---: | --- |")
    scrape = f"metric resolution {metrics.RESOLUTION} (a new value needs up to 2 scrapes) + HPA sync 5s"
    print(row("usage 100m → 900m: HPA asks for 4 replicas", [h[0] for h in hpa], scrape))
    print(row("usage 100m → 900m: 4 pods Running", [h[1] for h in hpa], "+ scheduling and kwok start"))
    print(row("pending pod → NodeClaim created", [k[0] for k in karp], "Karpenter batch idle 1s (max 10s)"))
    print(row("pending pod → its node Ready", [k[1] for k in karp], "+ kwok marks the node Ready"))
    print(row("pending pod → pod Running on it", [k[2] for k in karp], "+ scheduling"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
