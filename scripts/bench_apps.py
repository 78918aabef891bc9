#!/usr/bin/env python3
"""Deploy N apps (web, worker, cron) across the lab tenants' namespaces, each as its tenant, and
the identical objects with `kubectl apply --server-side` (docs/benchmarks.md).

    .venv/bin/python scripts/bench_apps.py [--lab apps] [--apps 80] [--workers 8]

Needs a running lab with the tenants onboarded (playbooks/tenant-onboarding.yml). The web and
worker processes run 0 replicas so 100 apps fit the lab plans' quotas: every object is written
and rolled out (Deployments observed by the controller), no pod is scheduled. The lab's plans
allow 20 Services and 50 ConfigMaps per namespace, so 4 namespaces hold 80 such apps (each has a
Service and two ConfigMaps); more are refused by the quota check, naming the quota.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "collections"))
sys.path.insert(0, str(ROOT / "lab"))

from ansible_collections.platykus.platform.plugins.module_utils._apps.batch import deploy_apps  # noqa: E402
from ansible_collections.platykus.platform.plugins.module_utils._apps.catalog import validate_catalog  # noqa: E402
from ansible_collections.platykus.platform.plugins.module_utils._apps.identity import write_tenant_kubeconfig  # noqa: E402
from ansible_collections.platykus.platform.plugins.module_utils._apps.objects import RenderOptions, render_app  # noqa: E402
from ansible_collections.platykus.platform.plugins.module_utils._apps.releases import History, render_releases  # noqa: E402
from ansible_collections.platykus.platform.plugins.module_utils._apps.spec import validate_app  # noqa: E402
from ansible_collections.platykus.platform.plugins.module_utils._core.kube import KubeClient  # noqa: E402
from platykus_lab.cluster import Lab  # noqa: E402
from platykus_lab.config import bin_dir  # noqa: E402

INVENTORY = ROOT / "inventories" / "lab"
NAMESPACES = ("acme-dev", "acme-prod", "globex-prod", "initech-dev")
CATALOG = yaml.safe_load((INVENTORY / "group_vars/all/apps.yml").read_text())["platykus_app_catalog"]


def spec(index: int) -> dict:
    namespace = NAMESPACES[index % len(NAMESPACES)]
    tenant, environment = namespace.split("-", 1)
    return {
        "name": "bench-%03d" % index,
        "tenant": tenant,
        "environment": environment,
        "image": "registry.platykus-lab.test/%s/bench:1.0.%d" % (tenant, index),
        "processes": {
            "web": {"size": "basic", "replicas": 0},
            "worker": {"size": "basic", "replicas": 0, "command": ["bin/worker"]},
            "nightly": {"size": "basic", "schedule": "0 3 * * *", "command": ["bin/nightly"]},
        },
        "config": {"INDEX": str(index)},
    }


def kubeconfigs(lab: Lab, folder: Path) -> dict[str, str]:
    def admin() -> KubeClient:
        return KubeClient.from_kubeconfig(str(lab.home / "kubeconfig"))

    paths = {}
    for namespace in NAMESPACES:
        path = folder / ("%s.kubeconfig" % namespace)
        write_tenant_kubeconfig(admin, namespace, str(path), 3600, json.dumps)
        paths[namespace] = str(path)
    return paths


def platykus(specs: list[dict], paths: dict[str, str], workers: int) -> tuple[float, int]:
    """Each namespace's apps in one batch as its tenant (what app-deploy.yml does), the namespaces side by side."""
    batches: dict[str, list[dict]] = {}
    for doc in specs:
        batches.setdefault("%s-%s" % (doc["tenant"], doc["environment"]), []).append(doc)

    def one(namespace: str) -> int:
        path = paths[namespace]
        results = deploy_apps(
            lambda: KubeClient.from_kubeconfig(path), batches[namespace], catalog=CATALOG, rollout_timeout=120
        )
        return sum(r["changed"] for r in results)

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=min(workers, len(batches))) as pool:
        changed = sum(pool.map(one, batches))
    return time.monotonic() - start, changed


def rendered(specs: list[dict]) -> dict[str, list[dict]]:
    """The objects the app module writes, per namespace (release 1, as a first deploy records it)."""
    catalog = validate_catalog(CATALOG)
    out: dict[str, list[dict]] = {ns: [] for ns in NAMESPACES}
    for doc in specs:
        app = validate_app(doc, catalog)
        objects = render_app(app, RenderOptions(release=1)) + [render_releases(app, History({}))]
        out[app.namespace].extend(objects)
    return out


def kubectl_apply(lab: Lab, objects: dict[str, list[dict]], paths: dict[str, str], folder: Path) -> float:
    start = time.monotonic()
    for namespace, docs in objects.items():
        manifest = folder / ("%s.yaml" % namespace)
        manifest.write_text(yaml.safe_dump_all(docs))
        subprocess.run(
            [
                str(lab.binaries / "kubectl"),
                "--kubeconfig",
                paths[namespace],
                "apply",
                "--server-side",
                "--field-manager=bench",
                "-f",
                str(manifest),
            ],
            check=True,
            capture_output=True,
        )
    return time.monotonic() - start


def clean(lab: Lab) -> None:
    for namespace in NAMESPACES:
        subprocess.run(
            [str(lab.binaries / "kubectl"), "--kubeconfig", str(lab.home / "kubeconfig"), "delete", "-n", namespace,
             "deploy,svc,cm,cronjob,job", "-l", "platykus.io/app", "--wait=true"],
            check=True,
            capture_output=True,
        )  # fmt: skip


def one_app_playbook(lab: Lab, paths: dict[str, str], folder: Path) -> float:
    doc = spec(0)
    path = folder / "one.yml"
    path.write_text(yaml.safe_dump(dict(doc, name="bench-one")))
    env = dict(os.environ, K8S_AUTH_KUBECONFIG=str(lab.home / "kubeconfig"), ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    start = time.monotonic()
    subprocess.run(
        [
            str(ROOT / ".venv/bin/ansible-playbook"),
            "playbooks/app-deploy.yml",
            "-e",
            "app_file=%s" % path,
            "-e",
            "app_kubeconfig=%s" % paths[NAMESPACES[0]],
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", default="apps")
    parser.add_argument("--apps", type=int, default=80)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    lab = Lab.named(args.lab, binaries=bin_dir())
    specs = [spec(i) for i in range(args.apps)]
    with tempfile.TemporaryDirectory(prefix="platykus-bench-apps-") as tmp:
        folder = Path(tmp)
        paths = kubeconfigs(lab, folder)
        clean(lab)
        first, changed_first = platykus(specs, paths, args.workers)
        again, changed_again = platykus(specs, paths, args.workers)
        clean(lab)
        objects = rendered(specs)
        kubectl_first = kubectl_apply(lab, objects, paths, folder)
        kubectl_again = kubectl_apply(lab, objects, paths, folder)
        clean(lab)
        playbook = one_app_playbook(lab, paths, folder)
        clean(lab)
    result = {
        "apps": args.apps,
        "objects": sum(len(v) for v in objects.values()),
        "platykus_first_s": round(first, 1),
        "platykus_rerun_s": round(again, 1),
        "changed_first": changed_first,
        "changed_rerun": changed_again,
        "kubectl_first_s": round(kubectl_first, 1),
        "kubectl_rerun_s": round(kubectl_again, 1),
        "ratio_first": round(first / kubectl_first, 2),
        "ratio_rerun": round(again / kubectl_again, 2),
        "one_app_playbook_s": round(playbook, 1),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
