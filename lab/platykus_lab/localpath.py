"""local-path-provisioner on the lab: the release's binary provisions the lab's default StorageClass.

It runs out of cluster (`start --kubeconfig`) as the ServiceAccount its chart creates, with the
chart's RBAC and ConfigMap (the catalog's values: node paths, no chart StorageClass). The
StorageClass is the catalog's object (`local-path`, default, reclaim Delete, WaitForFirstConsumer).
Its helper pods (mkdir / rm of the volume folder on the node) land on simulated nodes: the lab's
kwok completes pods labelled COMPLETE_LABEL (lab/kwok/stages.yaml), which the helper pod template
of the ConfigMap carries, so a claim is bound and a released volume deleted as on a real node.
"""

from __future__ import annotations

import yaml

from . import catalog, chart_rbac
from .controller_run import Context, controller, pid

NAMESPACE = "platykus-storage"  # the catalog's namespace for the release
RELEASE = "local-path-provisioner"
CONFIGMAP = "local-path-config"
PROVISIONER = "rancher.io/local-path"
# kwok completes Running pods with this label (lab/kwok/stages.yaml: pod-complete-labelled).
COMPLETE_LABEL = "lab.platykus.io/complete"
STARTED = "Provisioner started"  # logged (at debug level) just before the controller runs


def _helper_pod(template: str) -> str:
    pod = yaml.safe_load(template)
    pod["metadata"].setdefault("labels", {})[COMPLETE_LABEL] = "true"
    return yaml.safe_dump(pod, sort_keys=False)


def _objects(ctx: Context) -> list[dict]:
    values = catalog.service(RELEASE).get("values") or {}
    chart = chart_rbac.render(ctx.lab, ctx.share / "deploy" / "chart" / RELEASE, RELEASE, NAMESPACE, values)
    configmaps = [o for o in chart if o["kind"] == "ConfigMap" and o["metadata"]["name"] == CONFIGMAP]
    for configmap in configmaps:
        configmap["data"]["helperPod.yaml"] = _helper_pod(configmap["data"]["helperPod.yaml"])
    return chart_rbac.for_account(chart, NAMESPACE, RELEASE) + configmaps + catalog.objects(RELEASE, "StorageClass")


def _args(ctx: Context) -> list[str]:
    return [
        "--debug",
        "start",
        f"--kubeconfig={ctx.kubeconfig}",
        f"--namespace={NAMESPACE}",
        f"--service-account-name={RELEASE}",
        f"--configmap-name={CONFIGMAP}",
        f"--provisioner-name={PROVISIONER}",
        "--helper-image=busybox:latest",  # never pulled: kwok only sets the pod's status
        "--worker-threads=2",
    ]


def _health(ctx: Context) -> str | None:
    """It serves no port: alive, and its log since the last start says the controller started."""
    if not pid(ctx.lab, RELEASE):
        return "not running"
    log = ctx.lab.logs / f"{RELEASE}.log"
    tail = log.read_text(errors="replace").rsplit("\n==== ", 1)[-1] if log.exists() else ""
    return None if STARTED in tail else f"no '{STARTED}' in {log} yet"


LOCAL_PATH = controller(RELEASE, namespace=NAMESPACE, args=_args, health=_health, objects=_objects)
