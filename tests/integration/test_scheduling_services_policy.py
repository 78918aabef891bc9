"""Scheduling and Services in tenant namespaces, on the lab's real API server and kube-scheduler.

Every attack is made as a member of acme-devs (kubectl --as), the rights Platykus grants: a pod or
a workload in a PriorityClass its plan does not allow, a priority set by hand, a pod that may
preempt; a Service with externalIPs, an ExternalName alias, a chosen load balancer address. Then
the scheduler itself: a full node holds globex's pod, acme's pod in its tenant class waits instead
of preempting it, and the same request in a class that may preempt does evict it (so the test can
tell the two apart).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from test_tenant_lifecycle import onboarded  # noqa: F401  (the fixture: onboard the lab tenants in this module)

from ansible_collections.platykus.platform.plugins.module_utils._admission.workloads import (
    pod_spec,
    priority_attacks,
    render_priority_policy,
    service_attacks,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    PRIORITY_CLASSES_ANNOTATION,
    PRIORITY_POLICY_NAME,
    PRIORITY_QUOTA_NAME,
    SERVICE_POLICY_NAME,
    TENANT_PRIORITY_CLASSES,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.quantity import parse_quantity

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[2]

ACME = ("--as=someone@acme.example", "--as-group=acme-devs")
GLOBEX = ("--as=someone@globex.example", "--as-group=globex-devs")
ACME_DOMAINS = ["acme.apps.platykus-lab.test"]


def create(lab, obj: dict, who: tuple[str, ...] = ACME, *args: str):
    return lab.kubectl("create", "-f", "-", *who, *args, input=yaml.safe_dump(obj), check=False)


def dry_run(lab, obj: dict, who: tuple[str, ...] = ACME):
    return create(lab, obj, who, "--dry-run=server")


def pod(namespace: str, name: str, spec: dict) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def wait(what: str, condition, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, "%s within %ss" % (what, timeout)
        time.sleep(1)


def test_onboarding_makes_the_classes_the_policies_and_the_annotations(lab, onboarded):  # noqa: F811
    for name in TENANT_PRIORITY_CLASSES:
        item = lab.get_json("priorityclass", name)
        assert item["preemptionPolicy"] == "Never" and not item.get("globalDefault")
        assert item["value"] < 10000  # below platykus-platform-low, the lowest platform class
    for name in (PRIORITY_POLICY_NAME, SERVICE_POLICY_NAME):
        assert lab.get_json("validatingadmissionpolicybinding", name)["spec"]["validationActions"] == ["Deny"]
    annotations = {
        ns: lab.get_json("namespace", ns)["metadata"]["annotations"][PRIORITY_CLASSES_ANNOTATION]
        for ns in ("acme-dev", "globex-prod")
    }
    assert annotations == {"acme-dev": "platykus-tenant", "globex-prod": "platykus-tenant,platykus-tenant-high"}
    quota = lab.get_json("resourcequota", PRIORITY_QUOTA_NAME, "-n", "acme-dev")
    assert quota["spec"]["hard"] == {"pods": "0"}
    assert quota["status"]["hard"] == {"pods": "0"}  # the quota controller took it up


@pytest.fixture(scope="module")
def platform_classes(lab):
    """The platform's PriorityClasses, as platform_base makes them (the lab's tests do not run it)."""
    defaults = yaml.safe_load((REPO / "roles" / "platform_base" / "defaults" / "main.yml").read_text())
    lab.apply(
        [
            {
                "apiVersion": "scheduling.k8s.io/v1",
                "kind": "PriorityClass",
                "metadata": {"name": item["name"]},
                "value": int(item["value"]),
                "preemptionPolicy": "PreemptLowerPriority",
            }
            for item in defaults["platform_base_priority_classes"]
        ]
    )


@pytest.mark.parametrize("what, obj", priority_attacks("acme-dev", ACME_DOMAINS), ids=lambda v: str(v)[:60])
def test_the_tenant_cannot_take_another_priority(lab, onboarded, platform_classes, what, obj):  # noqa: F811
    refused = dry_run(lab, obj)
    assert refused.returncode != 0, "%s was admitted" % what
    assert "ValidatingAdmissionPolicy '%s'" % PRIORITY_POLICY_NAME in refused.stderr, refused.stderr


@pytest.mark.parametrize(
    "extra, refusal",
    [
        ({"priorityClassName": "made-up-priority"}, "no PriorityClass with name made-up-priority was found"),
        ({"priority": 2000000000}, "the integer value of priority (2000000000) must not be provided"),
        (
            {"priorityClassName": "platykus-tenant", "preemptionPolicy": "PreemptLowerPriority"},
            "the string value of PreemptionPolicy (PreemptLowerPriority) must not be provided",
        ),
    ],
)
def test_the_priority_plugin_refuses_what_pods_set_by_hand(lab, onboarded, extra, refusal):  # noqa: F811
    # Pods only: the API server's Priority plugin runs before admission policies (templates: the policy).
    refused = dry_run(lab, pod("acme-dev", "by-hand", pod_spec(**extra)))
    assert refused.returncode != 0 and refusal in refused.stderr, refused.stderr


def test_the_allowed_classes_are_admitted(lab, onboarded):  # noqa: F811
    deployment = next(obj for _what, obj in priority_attacks("acme-dev", ACME_DOMAINS) if obj["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["priorityClassName"] = "platykus-tenant"
    admitted = [
        (pod("acme-dev", "in-class", pod_spec("platykus-tenant")), ACME),
        (pod("acme-dev", "no-class", pod_spec()), ACME),
        (deployment, ACME),
        (pod("globex-prod", "high", pod_spec("platykus-tenant-high")), GLOBEX),  # medium allows it
    ]
    for obj, who in admitted:
        run = dry_run(lab, obj, who)
        assert run.returncode == 0, run.stderr
    refused = dry_run(lab, pod("acme-dev", "high", pod_spec("platykus-tenant-high")))  # small does not
    assert refused.returncode != 0 and "platykus-tenant-high is not allowed" in refused.stderr, refused.stderr
    assert "use one of [platykus-tenant]" in refused.stderr


def test_the_quota_refuses_other_classes_without_the_policy(lab, onboarded):  # noqa: F811
    binding = render_priority_policy()[1]
    probe = pod("acme-dev", "probe", pod_spec("system-cluster-critical"))
    lab.kubectl("delete", "validatingadmissionpolicybinding", PRIORITY_POLICY_NAME)
    try:
        run = wait(
            "the policy to unload",
            lambda: (lambda r: r if PRIORITY_POLICY_NAME not in r.stderr else None)(dry_run(lab, probe)),
        )
        assert run.returncode != 0, "a system-cluster-critical pod was admitted with the policy gone"
        assert "exceeded quota: %s" % PRIORITY_QUOTA_NAME in run.stderr, run.stderr
        assert dry_run(lab, pod("acme-dev", "fine", pod_spec("platykus-tenant"))).returncode == 0
        assert dry_run(lab, pod("acme-dev", "fine", pod_spec())).returncode == 0
    finally:
        lab.apply(binding)
    wait("the policy to load", lambda: PRIORITY_POLICY_NAME in dry_run(lab, probe).stderr)


@pytest.mark.parametrize("what, obj", service_attacks("acme-dev", ACME_DOMAINS), ids=lambda v: str(v)[:60])
def test_the_tenant_cannot_make_these_services(lab, onboarded, what, obj):  # noqa: F811
    refused = dry_run(lab, obj)
    assert refused.returncode != 0, "%s was admitted" % what
    assert "ValidatingAdmissionPolicy '%s'" % SERVICE_POLICY_NAME in refused.stderr, refused.stderr


def test_ordinary_services_are_admitted_and_status_endpoints_are_not_writable(lab, onboarded):  # noqa: F811
    ports = [{"name": "http", "port": 80, "targetPort": 8080}]
    fine = [
        {"selector": {"app": "web"}, "ports": ports},
        {
            "type": "LoadBalancer",
            "selector": {"app": "web"},
            "ports": ports,
            "loadBalancerSourceRanges": ["198.51.100.0/24"],
        },
        {"type": "NodePort", "selector": {"app": "web"}, "ports": ports, "externalTrafficPolicy": "Local"},
        {"selector": {"app": "web"}, "ports": ports, "ipFamilyPolicy": "SingleStack", "ipFamilies": ["IPv4"]},
    ]
    for index, spec in enumerate(fine):
        obj = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "ok-%d" % index, "namespace": "acme-dev"},
            "spec": spec,
        }
        run = dry_run(lab, obj)
        assert run.returncode == 0, run.stderr
    for verb, *resource in (
        ("update", "services", "--subresource=status"),
        ("patch", "services", "--subresource=status"),
        ("create", "endpoints"),
        ("update", "endpoints"),
        ("create", "endpointslices.discovery.k8s.io"),
        ("update", "endpointslices.discovery.k8s.io"),
    ):
        run = lab.kubectl("auth", "can-i", verb, *resource, "-n", "acme-dev", *ACME, check=False)
        assert run.stdout.strip() == "no", (verb, resource, run.stdout)
    # The platform's identity still writes the local add-on's ExternalName Service.
    alias = service_attacks("acme-dev", ACME_DOMAINS)[-1][1]
    assert (
        lab.kubectl("create", "-f", "-", "--dry-run=server", input=yaml.safe_dump(alias), check=False).returncode == 0
    )


# -- the scheduler ------------------------------------------------------------------------------


def _free_cpu(lab, node: dict) -> float:
    used = 0.0
    pods = lab.get_json("pods", "-A", "--field-selector", "spec.nodeName=%s" % node["metadata"]["name"])["items"]
    for item in pods:
        if item["status"].get("phase") in ("Succeeded", "Failed"):
            continue
        for container in item["spec"]["containers"]:
            used += float(parse_quantity((container.get("resources") or {}).get("requests", {}).get("cpu", "0"), "cpu"))
    return float(parse_quantity(node["status"]["allocatable"]["cpu"], "cpu")) - used


def _sized(cpu_milli: int, node: str, priority_class: str | None = None) -> dict:
    resources = {
        "requests": {"cpu": "%dm" % cpu_milli, "memory": "64Mi"},
        "limits": {"cpu": "%dm" % cpu_milli, "memory": "64Mi"},
    }
    spec = pod_spec(priority_class, nodeSelector={"kubernetes.io/hostname": node})
    spec["containers"][0]["resources"] = resources
    return spec


def _pod_state(lab, namespace: str, name: str) -> dict | None:
    run = lab.kubectl("get", "pod", name, "-n", namespace, "-o", "json", check=False)
    return yaml.safe_load(run.stdout) if run.returncode == 0 else None


def test_a_tenant_pod_waits_instead_of_preempting_another_tenant(lab, onboarded):  # noqa: F811
    nodes = [
        n for n in lab.get_json("nodes")["items"] if "kwok.x-k8s.io/node" in (n["metadata"].get("annotations") or {})
    ]
    # The node with least room that still fits both test pods' halves (acme may request at most 2 cpu).
    candidates = sorted((_free_cpu(lab, n), n["metadata"]["name"]) for n in nodes)
    free, node = next((f, n) for f, n in candidates if f >= 1.0)
    free_milli = int(free * 1000)
    acme_milli = min(2000, free_milli * 6 // 10)
    globex_milli = free_milli - acme_milli // 2  # leaves half of what acme needs
    created = []
    try:
        run = create(lab, pod("globex-prod", "holder", _sized(globex_milli, node)), GLOBEX)
        assert run.returncode == 0, run.stderr
        created.append(("globex-prod", "holder"))
        holder = wait(
            "globex's pod bound to %s" % node,
            lambda: (_pod_state(lab, "globex-prod", "holder") or {}).get("spec", {}).get("nodeName"),
        )
        assert holder == node
        uid = _pod_state(lab, "globex-prod", "holder")["metadata"]["uid"]

        run = create(lab, pod("acme-dev", "pusher", _sized(acme_milli, node, "platykus-tenant")))
        assert run.returncode == 0, run.stderr
        created.append(("acme-dev", "pusher"))
        events = wait(
            "the scheduler to find no room for acme's pod",
            lambda: [
                e
                for e in lab.get_json("events", "-n", "acme-dev", "--field-selector", "involvedObject.name=pusher")[
                    "items"
                ]
                if e["reason"] == "FailedScheduling"
            ],
        )
        assert "Insufficient cpu" in events[-1]["message"], events[-1]["message"]
        time.sleep(10)  # a preemption would show by now: the victim deleted, the preemptor nominated
        pusher = _pod_state(lab, "acme-dev", "pusher")
        assert pusher["status"].get("phase") == "Pending" and not pusher["spec"].get("nodeName")
        assert not pusher["status"].get("nominatedNodeName"), pusher["status"]
        assert pusher["spec"]["preemptionPolicy"] == "Never" and pusher["spec"]["priority"] == 1000
        still = _pod_state(lab, "globex-prod", "holder")
        assert still and still["metadata"]["uid"] == uid and not still["metadata"].get("deletionTimestamp")

        # The same request in a class that may preempt (at the same value) evicts globex's pod: the
        # scheduler would have preempted, had the tenant class allowed it.
        lab.apply(
            [
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "sched-control"}},
                {
                    "apiVersion": "scheduling.k8s.io/v1",
                    "kind": "PriorityClass",
                    "metadata": {"name": "sched-control-preempting"},
                    "value": 1000,
                    "preemptionPolicy": "PreemptLowerPriority",
                },
            ]
        )
        control = pod("sched-control", "preemptor", _sized(acme_milli, node, "sched-control-preempting"))
        wait(
            "the control pod created (its namespace's ServiceAccount first)",
            lambda: create(lab, control, ()).returncode == 0,
        )
        wait(
            "the control pod to preempt globex's pod",
            lambda: (lambda p: p is None or p["metadata"]["uid"] != uid or p["metadata"].get("deletionTimestamp"))(
                _pod_state(lab, "globex-prod", "holder")
            ),
            timeout=90,
        )
    finally:
        for namespace, name in created:
            lab.kubectl("delete", "pod", name, "-n", namespace, "--ignore-not-found", "--wait=false")
        lab.kubectl("delete", "namespace", "sched-control", "--ignore-not-found", "--wait=false")
        lab.kubectl("delete", "priorityclass", "sched-control-preempting", "--ignore-not-found")
