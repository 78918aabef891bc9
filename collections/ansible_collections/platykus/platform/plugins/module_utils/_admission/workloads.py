# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Scheduling and Services in tenant namespaces: PriorityClasses and admission policies (CEL, no webhook).

Scheduling. The platform makes the tenant PriorityClasses (TENANT_PRIORITY_CLASSES, values below
every platform class, ``preemptionPolicy: Never``), a plan lists those its tenants may use
(``priority_classes``, default DEFAULT_TENANT_PRIORITY_CLASSES), and onboarding writes the list on
each tenant namespace (PRIORITY_CLASSES_ANNOTATION; tenants cannot write namespaces). In every
namespace labelled platykus.io/tenant, :func:`render_priority_policy` refuses a pod, or the pod
template of a Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job or
CronJob, whose ``priorityClassName`` is not in that list (so never ``system-*`` nor the platform's
own), whose ``priority`` is above the highest tenant class, or that may preempt. The API server's
Priority plugin already refuses a pod whose ``priority`` differs from its class's; templates are
checked here so a bad Deployment fails at once, not as pods that never come. A pod with no class
has priority 0 (there is no globalDefault class: one would apply to the platform's pods too), below
the tenant classes. ResourceQuota PRIORITY_QUOTA_NAME (:func:`priority_quota_spec`) gives pods of
any other class a quota of zero pods, so the built-in ResourceQuota admission refuses them even
without the policy.

Why every tenant class is ``Never``: a tenant class that preempts would let tenant A's pods evict
tenant B's class-less (priority 0) pods whenever a node is full. With ``Never``, a tenant's pods
wait for room instead; a higher tenant class only orders the scheduling queue and node-pressure
eviction. The platform's classes keep ``PreemptLowerPriority``: the platform may displace tenants.

Services. :func:`render_service_policy` refuses ``spec.externalIPs`` (CVE-2020-8554: kube-proxy
would capture traffic to any address, the API service IP included), ``type: ExternalName`` and
``spec.externalName`` (a CNAME to another tenant's Service, the API server or the cloud's metadata
name, which the platform's ingress controller would then proxy under the tenant's host; a rule on
the name alone cannot see what a public name resolves to) except from the platform (the local
add-on provider writes them), ``spec.loadBalancerIP`` and the load-balancer annotations that pick
addresses or pools (LB_ADDRESS_ANNOTATIONS). LoadBalancer and NodePort Services are counted by the
plan's quota (services_loadbalancers, services_nodeports); ``loadBalancerSourceRanges`` only
narrows who reaches the tenant's own load balancer and is allowed. Tenants cannot write
``services/status`` nor Endpoints/EndpointSlices (their Roles, _tenants.objects).

Each ``*_attacks(namespace, domains)`` lists (what, object) pairs the policy must refuse, for the
audit kit to dry-run as the tenant.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._admission.common import (
    IS_PLATFORM_REQUEST,
    managed_labels,
    render_binding,
    render_policy,
    resource_rule,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    APPS_API_VERSION,
    BATCH_API_VERSION,
    DEFAULT_TENANT_PRIORITY_CLASSES,
    PRIORITY_CLASSES_ANNOTATION,
    PRIORITY_POLICY_NAME,
    SCHEDULING_API_VERSION,
    SERVICE_POLICY_NAME,
    TENANT_PRIORITY_CLASSES,
)

# Values below the platform's lowest class (platykus-platform-low, 10000, roles/platform_base) and
# above the priority 0 of a pod with no class.
TENANT_PRIORITY_VALUES = dict(zip(TENANT_PRIORITY_CLASSES, (1000, 2000)))
_DESCRIPTIONS = {
    "platykus-tenant": "Tenant workloads (the default a plan allows); never preempts other pods.",
    "platykus-tenant-high": "Tenant workloads scheduled and kept before platykus-tenant ones; never preempts.",
}
MAX_TENANT_PRIORITY = max(TENANT_PRIORITY_VALUES.values())
# Service annotations that choose a load balancer's addresses or address pool (AWS load balancer
# controller and cloud provider, MetalLB old and new, kube-vip, Cilium LB IPAM).
LB_ADDRESS_ANNOTATIONS = (
    "service.beta.kubernetes.io/aws-load-balancer-eip-allocations",
    "service.beta.kubernetes.io/aws-load-balancer-private-ipv4-addresses",
    "service.beta.kubernetes.io/aws-load-balancer-ipv6-addresses",
    "metallb.universe.tf/loadBalancerIPs",
    "metallb.universe.tf/address-pool",
    "metallb.io/loadBalancerIPs",
    "metallb.io/address-pool",
    "kube-vip.io/loadbalancerIPs",
    "io.cilium/lb-ipam-ips",
)
# Kinds whose pod template the priority policy reads, and where the template's spec is.
TEMPLATE_KINDS = {
    ("apps", "deployments"): "Deployment",
    ("apps", "statefulsets"): "StatefulSet",
    ("apps", "daemonsets"): "DaemonSet",
    ("apps", "replicasets"): "ReplicaSet",
    ("", "replicationcontrollers"): "ReplicationController",
    ("batch", "jobs"): "Job",
    ("batch", "cronjobs"): "CronJob",
}


def render_priority_classes() -> list[dict[str, Any]]:
    """The tenant PriorityClasses (cluster-scoped, made by the platform; ``value`` is immutable)."""
    return [
        {
            "apiVersion": SCHEDULING_API_VERSION,
            "kind": "PriorityClass",
            "metadata": {"name": name, "labels": managed_labels()},
            "value": TENANT_PRIORITY_VALUES[name],
            "globalDefault": False,
            "preemptionPolicy": "Never",
            "description": _DESCRIPTIONS[name],
        }
        for name in TENANT_PRIORITY_CLASSES
    ]


def priority_annotations(classes: Iterable[str]) -> dict[str, str]:
    """The namespace annotation the priority policy reads."""
    return {PRIORITY_CLASSES_ANNOTATION: ",".join(classes)}


def priority_quota_spec(classes: Iterable[str]) -> dict[str, Any]:
    """ResourceQuota spec: no pod that names a class outside ``classes`` (a pod with no class is not
    selected: ``Exists`` matches only a non-empty priorityClassName; the expressions are ANDed)."""
    return {
        "hard": {"pods": "0"},
        "scopeSelector": {
            "matchExpressions": [
                {"scopeName": "PriorityClass", "operator": "Exists"},
                {"scopeName": "PriorityClass", "operator": "NotIn", "values": sorted(classes)},
            ]
        },
    }


# -- scheduling ---------------------------------------------------------------------------------

_ANNOTATIONS = "namespaceObject.metadata.annotations"
_PRIORITY_VARIABLES = [
    {
        "name": "allowed",
        "expression": "has(%s) && '%s' in %s ? %s['%s'].split(',') : []"
        % (_ANNOTATIONS, PRIORITY_CLASSES_ANNOTATION, _ANNOTATIONS, _ANNOTATIONS, PRIORITY_CLASSES_ANNOTATION),
    },
    {
        "name": "pod",
        "expression": "object.kind == 'Pod' ? object.spec : (object.kind == 'CronJob' "
        "? object.spec.jobTemplate.spec.template.spec : object.spec.template.spec)",
    },
    {
        "name": "className",
        "expression": "has(variables.pod.priorityClassName) ? variables.pod.priorityClassName : ''",
    },
]
_WHERE = "'%s of the namespace, from the tenant plan'" % PRIORITY_CLASSES_ANNOTATION
_PRIORITY_VALIDATIONS = [
    {
        "expression": "variables.className == '' || variables.className in variables.allowed",
        "messageExpression": "'priorityClassName ' + variables.className + ' is not allowed in this namespace; "
        "use one of [' + variables.allowed.filter(c, c != '').join(', ') + '] (' + %s + ') or leave it out'" % _WHERE,
        "reason": "Forbidden",
    },
    {
        "expression": "!has(variables.pod.priority) || variables.pod.priority <= %d" % MAX_TENANT_PRIORITY,
        "message": "spec.priority above %d (the highest tenant PriorityClass) is not allowed; leave spec.priority "
        "out and name an allowed priorityClassName" % MAX_TENANT_PRIORITY,
        "reason": "Forbidden",
    },
    {
        "expression": "!has(variables.pod.preemptionPolicy) || variables.pod.preemptionPolicy == 'Never' "
        "|| (variables.className == '' && (!has(variables.pod.priority) || variables.pod.priority <= 0))",
        "message": "tenant pods may not preempt other pods: leave spec.preemptionPolicy out (the tenant "
        "PriorityClasses set Never)",
        "reason": "Forbidden",
    },
]


def render_priority_policy() -> list[dict[str, Any]]:
    """The priority policy and its binding: pods on CREATE, pod templates on CREATE and UPDATE."""
    write = ["CREATE", "UPDATE"]
    rules = [resource_rule("", ["pods"], ["CREATE"])]
    by_group: dict[str, list[str]] = {}
    for group, resource in TEMPLATE_KINDS:
        by_group.setdefault(group, []).append(resource)
    rules += [resource_rule(group, sorted(resources), write) for group, resources in sorted(by_group.items())]
    return [
        render_policy(PRIORITY_POLICY_NAME, rules, _PRIORITY_VALIDATIONS, _PRIORITY_VARIABLES),
        render_binding(PRIORITY_POLICY_NAME),
    ]


_SECURITY = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def pod_spec(priority_class: str | None = None, **extra: Any) -> dict[str, Any]:
    """A pod spec the restricted pod-security level admits (so only the policy can refuse it)."""
    spec: dict[str, Any] = {
        "containers": [{"name": "app", "image": "registry.example/app:1", "securityContext": dict(_SECURITY)}]
    }
    if priority_class is not None:
        spec["priorityClassName"] = priority_class
    spec.update(extra)
    return spec


def _pod(namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def _workload(namespace: str, kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    template = {"metadata": {"labels": {"app": name}}, "spec": spec}
    if kind == "CronJob":
        job = dict(template, spec=dict(spec, restartPolicy="Never"))
        body: dict[str, Any] = {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": job}}}
        api = BATCH_API_VERSION
    elif kind == "Job":
        body = {"template": dict(template, spec=dict(spec, restartPolicy="Never"))}
        api = BATCH_API_VERSION
    else:
        rc = kind == "ReplicationController"
        body = {"selector": {"app": name} if rc else {"matchLabels": {"app": name}}, "template": template}
        api = "v1" if rc else APPS_API_VERSION
        if kind == "StatefulSet":
            body["serviceName"] = name
    return {"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": namespace}, "spec": body}


def priority_controls(namespace: str, domains: list[str]) -> list[tuple[str, dict]]:
    """What the priority policy must admit in any tenant namespace: a workload with no class (priority 0)."""
    del domains
    return [
        ("a Deployment whose pods name no class", _workload(namespace, "Deployment", "audit-prio-none", pod_spec()))
    ]


def priority_attacks(namespace: str, domains: list[str]) -> list[tuple[str, dict]]:
    """Objects the priority policy itself must refuse in ``namespace`` (``domains`` unused).

    Pods name the classes every cluster has (``system-*``). The platform's own class (not made yet on
    a bare cluster), an unknown class, a hand-set ``priority`` or ``preemptionPolicy`` on a pod would
    be refused earlier by the API server's Priority plugin, so those are tried on workload
    templates, which only the policy reads. DaemonSets are left out: tenant roles cannot create them at all."""
    del domains
    pods = [
        ("system-cluster-critical", pod_spec("system-cluster-critical")),
        ("system-node-critical", pod_spec("system-node-critical")),
    ]
    attacks = [
        ("a pod in %s" % what, _pod(namespace, "audit-prio-%d" % index, spec))
        for index, (what, spec) in enumerate(pods)
    ]
    for kind in TEMPLATE_KINDS.values():
        if kind == "DaemonSet":
            continue
        name = "audit-prio-%s" % kind.lower()
        spec = pod_spec("system-cluster-critical")
        attacks.append(("a %s whose pods are system-cluster-critical" % kind, _workload(namespace, kind, name, spec)))
    templates = [
        # A template, not a pod: where the platform's classes are not made yet (a bare cluster), the
        # Priority plugin would refuse such a pod before the policy, proving nothing.
        ("in the platform's class", "platform", pod_spec("platykus-platform-critical")),
        ("in a class no plan knows", "made-up", pod_spec("made-up-priority")),
        ("setting spec.priority", "value", pod_spec(priority=2000000000)),
        (
            "of a tenant class that may preempt",
            "preempt",
            pod_spec(DEFAULT_TENANT_PRIORITY_CLASSES[0], preemptionPolicy="PreemptLowerPriority"),
        ),
    ]
    for what, suffix, spec in templates:
        attacks.append(
            ("a Deployment whose pods are %s" % what, _workload(namespace, "Deployment", "audit-prio-" + suffix, spec))
        )
    return attacks


# -- Services -----------------------------------------------------------------------------------

_PLATFORM = "(%s)" % IS_PLATFORM_REQUEST
_ANNOTATION_LIST = "[%s]" % ", ".join("'%s'" % a for a in LB_ADDRESS_ANNOTATIONS)
_SERVICE_VALIDATIONS = [
    {
        "expression": "!has(object.spec.externalIPs) || size(object.spec.externalIPs) == 0",
        "message": "spec.externalIPs is not allowed in tenant namespaces (CVE-2020-8554: it captures traffic to "
        "those addresses cluster-wide); use a LoadBalancer Service or an Ingress",
        "reason": "Forbidden",
    },
    {
        "expression": "%s || ((!has(object.spec.type) || object.spec.type != 'ExternalName') "
        "&& (!has(object.spec.externalName) || object.spec.externalName == ''))" % _PLATFORM,
        "message": "type ExternalName and spec.externalName are not allowed in tenant namespaces (an alias can "
        "point the platform's ingress at another tenant's Service or an internal address); connect to the "
        "external host by its name from your app",
        "reason": "Forbidden",
    },
    {
        "expression": "!has(object.spec.loadBalancerIP) || object.spec.loadBalancerIP == ''",
        "message": "spec.loadBalancerIP is not allowed in tenant namespaces (it would claim an address the "
        "platform or another tenant uses); leave it out, the load balancer gets its own address",
        "reason": "Forbidden",
    },
    {
        "expression": "!has(object.metadata.annotations) || !%s.exists(a, a in object.metadata.annotations)"
        % _ANNOTATION_LIST,
        "messageExpression": "'annotations ' + %s.filter(a, a in object.metadata.annotations).join(', ') "
        "+ ' choose load balancer addresses or pools and are not allowed in tenant namespaces; leave them out'"
        % _ANNOTATION_LIST,
        "reason": "Forbidden",
    },
]


def render_service_policy() -> list[dict[str, Any]]:
    """The Service policy and its binding (CREATE and UPDATE of Services)."""
    rules = [resource_rule("", ["services"], ["CREATE", "UPDATE"])]
    return [render_policy(SERVICE_POLICY_NAME, rules, _SERVICE_VALIDATIONS, []), render_binding(SERVICE_POLICY_NAME)]


def _service(namespace: str, name: str, spec: dict[str, Any], annotations: dict | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec}


_PORTS = [{"name": "http", "port": 80, "targetPort": 8080}]


def service_attacks(namespace: str, domains: list[str]) -> list[tuple[str, dict]]:
    """Services the Service policy must refuse in ``namespace``; one ExternalName per kind of target
    (the API server, another tenant's Service, a bare name, an IP, a public name, one of ``domains``)."""
    selector = {"app": "web"}
    attacks = [
        (
            "a Service with externalIPs (the API service IP)",
            _service(
                namespace,
                "audit-svc-externalips",
                {"selector": selector, "ports": _PORTS, "externalIPs": ["10.96.0.1"]},
            ),
        ),
        (
            "a LoadBalancer Service with loadBalancerIP",
            _service(
                namespace,
                "audit-svc-lbip",
                {"type": "LoadBalancer", "selector": selector, "ports": _PORTS, "loadBalancerIP": "203.0.113.10"},
            ),
        ),
        (
            "a LoadBalancer Service choosing its EIPs",
            _service(
                namespace,
                "audit-svc-eip",
                {"type": "LoadBalancer", "selector": selector, "ports": _PORTS},
                {LB_ADDRESS_ANNOTATIONS[0]: "eipalloc-0123456789abcdef0"},
            ),
        ),
        (
            "a LoadBalancer Service choosing MetalLB addresses",
            _service(
                namespace,
                "audit-svc-metallb",
                {"type": "LoadBalancer", "selector": selector, "ports": _PORTS},
                {"metallb.io/loadBalancerIPs": "192.0.2.10"},
            ),
        ),
    ]
    targets = [
        ("the API server", "kubernetes.default.svc.cluster.local"),
        ("another tenant's Service", "web.globex-prod.svc"),
        ("a bare name", "web"),
        ("an IP address", "10.96.0.1"),
        ("a public name", "www.example.com"),
    ] + [("a host of the tenant's own domain", "www.%s" % domain) for domain in domains[:1]]
    for index, (what, target) in enumerate(targets):
        attacks.append(
            (
                "an ExternalName Service to %s" % what,
                _service(namespace, "audit-svc-extname-%d" % index, {"type": "ExternalName", "externalName": target}),
            )
        )
    return attacks


def render_workload_policies() -> list[dict[str, Any]]:
    """Everything cluster-wide this module makes, as onboarding applies it: the tenant PriorityClasses,
    then the priority and Service policies with their bindings."""
    return render_priority_classes() + render_priority_policy() + render_service_policy()
