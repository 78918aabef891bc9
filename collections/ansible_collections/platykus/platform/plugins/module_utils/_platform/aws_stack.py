# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AWS stack under an EKS platform, as data: validated inventory in, one spec out.

inventory settings + the service plan + the tenant specs -> ``stack_spec`` -> the roles
aws_network, aws_cluster, aws_identity and aws_tenants read their part of it. Every problem
is collected and reported at once, naming the inventory variable, before any AWS call.
IRSA trust documents (``irsa_trust``) need the cluster's OIDC issuer, known once it exists.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._aws.oidc import issuer_host
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    AWS_CLUSTER_TAG,
    AWS_COST_CENTER_TAG,
    AWS_MANAGED_BY_TAG,
    AWS_SERVICE_TAG,
    AWS_TENANT_TAG,
    MANAGED_BY_VALUE,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.problems import Problems
from ansible_collections.platykus.platform.plugins.module_utils._platform.services import IRSA_ANNOTATION
from ansible_collections.platykus.platform.plugins.module_utils._tenants.aws import (
    IRSA_SERVICE_ACCOUNT,
    TenantAws,
    aws_tags,
    tenant_policy,
    validate_scope,
)
from ansible_collections.platykus.platform.plugins.module_utils._tenants.aws_apply import POLICY_NAME

# AWS tag keys: their one home is _core/names.py.
CLUSTER_TAG = AWS_CLUSTER_TAG
TENANT_TAG = AWS_TENANT_TAG
COST_CENTER_TAG = AWS_COST_CENTER_TAG
MANAGED_BY_TAG = AWS_MANAGED_BY_TAG
MANAGED_BY = MANAGED_BY_VALUE
# EKS versions in standard support that this collection was tested with.
EKS_VERSIONS = ("1.31", "1.32", "1.33", "1.34")
STS_AUDIENCE = "sts.amazonaws.com"
_REGION_RE = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$")
_S3_ARN_RE = re.compile(r"^arn:[a-z-]+:s3:::([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])$")


def _cidr(problems: Problems, field: str, value: Any) -> ipaddress.IPv4Network | None:
    try:
        return ipaddress.IPv4Network(str(value), strict=True)
    except ValueError:
        problems.add(field, "%r is not an IPv4 network; write it like 10.20.0.0/16" % (value,))
        return None


def _check_zones(problems: Problems, region: str, zones: Any) -> list[str]:
    if not isinstance(zones, list) or len(zones) < 2:
        problems.add("platykus_aws_zones", "EKS needs at least two zones, e.g. [%sa, %sb]" % (region, region))
        return []
    for index, zone in enumerate(zones):
        if not re.match("^%s[a-z]$" % re.escape(region), str(zone)):
            problems.add(
                "platykus_aws_zones[%d]" % index,
                "%r is not a zone of region %s; use %sa, %sb, ..." % (zone, region, region, region),
            )
    if len(set(zones)) != len(zones):
        problems.add("platykus_aws_zones", "a zone is listed twice; list each once")
    return [str(z) for z in zones]


def _check_subnets(
    problems: Problems, vpc: ipaddress.IPv4Network | None, zones: list[str], settings: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Public and private subnets, one of each per zone, inside the VPC and not overlapping."""
    subnets: list[dict[str, Any]] = []
    seen: list[tuple[str, ipaddress.IPv4Network]] = []
    for tier in ("public", "private"):
        field = "platykus_aws_%s_subnet_cidrs" % tier
        cidrs = settings.get(field) or []
        if len(cidrs) != len(zones):
            problems.add(field, "give one CIDR per zone (%d zones, %d CIDRs)" % (len(zones), len(cidrs)))
        for index, (zone, value) in enumerate(zip(zones, cidrs)):
            net = _cidr(problems, "%s[%d]" % (field, index), value)
            if net is None:
                continue
            if vpc is not None and not net.subnet_of(vpc):
                problems.add("%s[%d]" % (field, index), "%s is not inside platykus_aws_vpc_cidr %s" % (net, vpc))
            for other_field, other in seen:
                if net.overlaps(other):
                    problems.add(
                        "%s[%d]" % (field, index),
                        "%s overlaps %s (%s); give each subnet its own range" % (net, other, other_field),
                    )
            seen.append(("%s[%d]" % (field, index), net))
            subnets.append({"tier": tier, "zone": zone, "cidr": str(net)})
    return subnets


def _check_version(problems: Problems, version: Any) -> str:
    version = str(version)
    if version not in EKS_VERSIONS:
        problems.add(
            "platykus_eks_version", "%r is not a supported EKS version (%s)" % (version, ", ".join(EKS_VERSIONS))
        )
    return version


def base_tags(cluster: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Tags on every resource of the stack; the inventory's extra tags cannot replace these."""
    return {**dict(extra or {}), CLUSTER_TAG: cluster, MANAGED_BY_TAG: MANAGED_BY}


def _subnet_entries(cluster: str, eks_name: str, subnets: list[dict[str, Any]], tags: dict[str, str]) -> list[dict]:
    for subnet in subnets:
        role = "kubernetes.io/role/elb" if subnet["tier"] == "public" else "kubernetes.io/role/internal-elb"
        extra = {role: "1", "kubernetes.io/cluster/%s" % eks_name: "shared"}
        if subnet["tier"] == "private":
            extra["karpenter.sh/discovery"] = eks_name
        subnet["name"] = "%s-%s-%s" % (cluster, subnet["tier"], subnet["zone"])
        subnet["tags"] = {**tags, **extra, "Name": subnet["name"]}
    return subnets


def network_spec(settings: Mapping[str, Any], problems: Problems) -> dict[str, Any]:
    cluster = str(settings.get("platykus_cluster_name"))
    eks_name = str(settings.get("platykus_eks_cluster_name") or cluster)
    region = str(settings.get("platykus_aws_region"))
    if not _REGION_RE.match(region):
        problems.add("platykus_aws_region", "%r is not a region; write it like eu-west-1" % region)
    zones = _check_zones(problems, region, settings.get("platykus_aws_zones"))
    vpc = _cidr(problems, "platykus_aws_vpc_cidr", settings.get("platykus_aws_vpc_cidr"))
    subnets = _check_subnets(problems, vpc, zones, settings)
    tags = base_tags(cluster, settings.get("platykus_aws_tags"))
    return {
        "name": cluster,
        "region": region,
        "cidr": str(vpc) if vpc else None,
        "zones": zones,
        "subnets": _subnet_entries(cluster, eks_name, subnets, tags),
        "tags": tags,
        "node_security_group_tags": {**tags, "karpenter.sh/discovery": eks_name, "Name": "%s-nodes" % cluster},
    }


def _pool(settings: Mapping[str, Any], problems: Problems) -> dict[str, Any]:
    pool = dict(settings.get("platykus_eks_system_pool") or {})
    sizes = [pool.get(k) for k in ("min_size", "desired_size", "max_size")]
    if not all(isinstance(s, int) for s in sizes) or not sizes[0] <= sizes[1] <= sizes[2] or sizes[2] < 1:
        problems.add(
            "platykus_eks_system_pool", "min_size <= desired_size <= max_size (integers, max >= 1) are required"
        )
    if not pool.get("instance_types"):
        problems.add("platykus_eks_system_pool.instance_types", "list at least one instance type, e.g. [m6i.large]")
    return pool


def cluster_spec(settings: Mapping[str, Any], problems: Problems) -> dict[str, Any]:
    cluster = str(settings.get("platykus_cluster_name"))
    eks_name = str(settings.get("platykus_eks_cluster_name") or cluster)
    return {
        "name": eks_name,
        "version": _check_version(problems, settings.get("platykus_eks_version")),
        "role": "%s-eks-cluster" % cluster,
        "node_role": "%s-eks-nodes" % cluster,
        "system_pool": _pool(settings, problems),
        "tags": base_tags(cluster, settings.get("platykus_aws_tags")),
    }


def _service_account(release: Mapping[str, Any]) -> str:
    """The ServiceAccount that carries the IRSA annotation in the release's values (else the release's)."""
    stack = [release.get("values") or {}]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            annotations = node.get("annotations")
            if isinstance(annotations, dict) and IRSA_ANNOTATION in annotations:
                return str(node.get("name") or release["release"])
            stack.extend(v for v in node.values() if isinstance(v, dict))
    return str(release["release"])


def _catalog_irsa(releases: Iterable[Mapping[str, Any]], wanted: Any, problems: Problems) -> list[Mapping[str, Any]]:
    with_irsa = [r for r in releases if r.get("irsa") and r.get("state", "present") == "present"]
    if wanted is None:
        return with_irsa
    by_name = {r["service"]: r for r in with_irsa}
    chosen = []
    for index, name in enumerate(wanted):
        if name not in by_name:
            problems.add(
                "platykus_aws_irsa_services[%d]" % index,
                "%r has no enabled irsa role in catalog/services.yml"
                " (services with one: %s)" % (name, ", ".join(sorted(by_name)) or "none"),
            )
        else:
            chosen.append(by_name[name])
    return chosen


def irsa_spec(settings: Mapping[str, Any], releases: Iterable[Mapping[str, Any]], problems: Problems) -> list[dict]:
    tags = base_tags(str(settings.get("platykus_cluster_name")), settings.get("platykus_aws_tags"))
    roles = []
    for release in _catalog_irsa(releases, settings.get("platykus_aws_irsa_services"), problems):
        roles.append(
            {
                "service": release["service"],
                "role": release["irsa"]["role"],
                "namespace": release["namespace"],
                "service_account": _service_account(release),
                "policy": release["irsa"].get("policy") or {},
                "tags": {**tags, AWS_SERVICE_TAG: release["service"]},
            }
        )
    return roles


def service_buckets(irsa_roles: Iterable[Mapping[str, Any]], tags: Mapping[str, str]) -> list[dict[str, Any]]:
    """Buckets the platform's own services use: every whole-bucket S3 ARN an IRSA policy names."""
    names = set()
    for role in irsa_roles:
        for statement in role["policy"].get("Statement") or []:
            resources = statement.get("Resource") or []
            for arn in [resources] if isinstance(resources, str) else resources:
                match = _S3_ARN_RE.match(str(arn))
                if match:
                    names.add(match.group(1))
    return [{"name": name, "tags": dict(tags)} for name in sorted(names)]


def _namespaces(spec: Mapping[str, Any]) -> list[str]:
    envs = spec.get("environments") or []
    return ["%s-%s" % (spec["name"], env["name"] if isinstance(env, Mapping) else env) for env in envs]


def _identity(scope: TenantAws) -> dict[str, Any]:
    """What the isolation audit, the certificate and offboarding need of a tenant: its role, domain,
    bucket, secret prefix and scope."""
    return {
        "tenant": scope.tenant,
        "scope": {f: getattr(scope, f) for f in ("tenant", "cluster", "account_id", "region", "zone", "partition")},
        "domain": scope.domain,
        "role": scope.identity,
        "bucket": scope.bucket,
        "secret_prefix": scope.secret_prefix,
    }


def tenant_identity(tenant: str, cluster: str, account_id: str, region: str, zone: str) -> dict[str, Any]:
    """A tenant's AWS identity entry (as in ``tenant_spec``) from the inventory's names alone."""
    return _identity(TenantAws(tenant=tenant, cluster=cluster, account_id=account_id, region=region, zone=zone))


def tenant_spec(settings: Mapping[str, Any], tenant: Mapping[str, Any], problems: Problems) -> dict[str, Any]:
    scope = TenantAws(
        tenant=str(tenant["name"]),
        cluster=str(settings.get("platykus_cluster_name")),
        account_id=str(settings.get("platykus_aws_account_id")),
        region=str(settings.get("platykus_aws_region")),
        zone=str(settings.get("platykus_route53_zone") or ""),
        cost_center=tenant.get("cost_center"),
    )
    try:
        validate_scope(scope)
    except PlatykusError as err:
        problems.add("platykus_tenants[%s]" % scope.tenant, str(err))
    tags = {**dict(settings.get("platykus_aws_tags") or {}), **aws_tags(scope)}
    return {
        **_identity(scope),
        "policy": tenant_policy(scope),
        "policy_name": POLICY_NAME,
        "subjects": [(ns, IRSA_SERVICE_ACCOUNT) for ns in _namespaces(tenant)],
        "tags": tags,
    }


def stack_spec(
    settings: Mapping[str, Any], releases: Iterable[Mapping[str, Any]], tenants: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """The whole stack from the inventory, or a PlatykusError naming every bad variable."""
    problems = Problems()
    if not re.match(r"^\d{12}$", str(settings.get("platykus_aws_account_id"))):
        problems.add("platykus_aws_account_id", "%r must be 12 digits" % settings.get("platykus_aws_account_id"))
    network = network_spec(settings, problems)
    cluster = cluster_spec(settings, problems)
    irsa = irsa_spec(settings, list(releases), problems)
    tenant_specs = [tenant_spec(settings, t, problems) for t in tenants]
    problems.raise_on_one_line("Invalid AWS inventory, nothing was called")
    return {
        "account_id": str(settings["platykus_aws_account_id"]),
        "region": network["region"],
        "network": network,
        "cluster": cluster,
        "irsa": irsa,
        "buckets": service_buckets(irsa, network["tags"]),
        "karpenter": karpenter_spec(cluster),
        "tenants": tenant_specs,
    }


def karpenter_spec(cluster: Mapping[str, Any]) -> dict[str, Any]:
    """Karpenter's node role (the EC2NodeClass names it) and its interruption queue (settings.interruptionQueue)."""
    return {"node_role": "KarpenterNodeRole-%s" % cluster["name"], "queue": cluster["name"], "tags": cluster["tags"]}


def irsa_trust(issuer: str, account_id: str, subjects: Iterable[Any], partition: str = "aws") -> dict[str, Any]:
    """Trust for web identities of the cluster's OIDC issuer: only the listed ServiceAccounts, audience STS."""
    host = issuer_host(issuer)
    subs = sorted("system:serviceaccount:%s:%s" % (ns, sa) for ns, sa in subjects)
    if not subs:
        raise PlatykusError("an IRSA trust needs at least one ServiceAccount (namespace, name)")
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": "arn:%s:iam::%s:oidc-provider/%s" % (partition, account_id, host)},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {"%s:sub" % host: subs if len(subs) > 1 else subs[0], "%s:aud" % host: STS_AUDIENCE}
                },
            }
        ],
    }


def service_trust(service: str) -> dict[str, Any]:
    """Trust for an AWS service principal (eks.amazonaws.com, ec2.amazonaws.com)."""
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }
