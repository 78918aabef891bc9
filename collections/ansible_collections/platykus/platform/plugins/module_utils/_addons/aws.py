# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``aws`` provider's plan: what playbooks/tasks/addon_aws.yml asks AWS for, per add-on.

The resources are made by the bundled modules (amazon.aws.rds_instance, community.aws.elasticache,
amazon.aws.s3_bucket, amazon.aws.secretsmanager_secret); this module only turns validated requests
into their parameters, so the names, sizes and tags have one home and are unit-tested:

- postgresql / mysql: an RDS instance ``pk-<ident>`` (engine, version, class, storage, Multi-AZ
  for ``ha``, 7 days of backups for ``backups``), master user ``<ident>``, database ``<ident>``;
- redis: an ElastiCache cluster ``pk-<hash>`` (its ids are at most 40 characters);
- bucket: an S3 bucket ``platykus-<tenant>-<name>-<hash>`` (encrypted, public access blocked);
- kafka: an MSK cluster ``pk-<hash>`` (one broker per private subnet, SASL/SCRAM over TLS only),
  its configuration ``pk-<hash>`` and security group ``<cluster>-kafka-pk-<hash>``; the SCRAM user's
  secret ``AmazonMSK_platykus/<tenant>/addons/<name>`` (MSK reads only secrets named ``AmazonMSK_*``,
  so it sits outside the tenant's prefix, where the tenant's SecretStore cannot read it);
- every add-on: its connection values in Secrets Manager as ``platykus/<tenant>/addons/<name>``,
  the prefix the tenant's SecretStore reads, tagged with the tenant, its cost centre and the cluster,
  and an ExternalSecret ``addon-<name>`` in the tenant's namespace (render_external_secret).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from decimal import ROUND_CEILING, Decimal
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._addons.catalog import (
    Addon,
    validate_catalog,
    validate_requests,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    ADDON_LABEL,
    ADDON_PLAN_ANNOTATION,
    ADDON_PROVIDER_ANNOTATION,
    AWS_ADDON_TAG,
    AWS_CLUSTER_TAG,
    AWS_COST_CENTER_TAG,
    AWS_DATA_SERVICE_TAG,
    AWS_MANAGED_BY_TAG,
    AWS_TENANT_TAG,
    DATA_SERVICE_LABEL,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    TENANT_LABEL,
)
from ansible_collections.platykus.platform.plugins.module_utils._tenants.aws import SECRET_ROOT, secret_store_ref

ENGINES = {"postgresql": ("postgres", 5432), "mysql": ("mysql", 3306), "redis": ("redis", 6379)}
DEFAULT_CLASS = {
    "postgresql": "db.t3.micro",
    "mysql": "db.t3.micro",
    "redis": "cache.t3.micro",
    "kafka": "kafka.t3.small",
}
# MSK: clients authenticate with SASL/SCRAM over TLS on this port; MSK reads SCRAM users only from
# secrets named with this prefix (and encrypted with a customer managed KMS key).
MSK_SCRAM_PORT = 9096
MSK_SECRET_PREFIX = "AmazonMSK_"
# The add-on's own cluster: SCRAM users only (no unauthenticated access), so with no ACLs the one
# user may use every topic; topics are created by the app.
MSK_SERVER_PROPERTIES = {
    "auto.create.topics.enable": "false",
    "allow.everyone.if.no.acl.found": "true",
    "default.replication.factor": "2",
    "min.insync.replicas": "1",
}
GIB = Decimal(2**30)


def _digest(addon: Addon) -> str:
    return hashlib.sha256(("%s/%s" % (addon.tenant, addon.name)).encode()).hexdigest()[:10]


def secret_name(tenant: str, name: str) -> str:
    """Under the tenant's prefix (``platykus/<tenant>/``), which its SecretStore may read."""
    return "%s/%s/addons/%s" % (SECRET_ROOT, tenant, name)


def tags(addon: Addon, cost_center: str | None, cluster: str | None = None) -> dict[str, str]:
    # AWS tag keys, not the Kubernetes labels: Cost Explorer and Budgets read these (_core.names).
    found = {
        AWS_MANAGED_BY_TAG: MANAGED_BY_VALUE,
        AWS_TENANT_TAG: addon.tenant,
        AWS_ADDON_TAG: addon.name,
        AWS_DATA_SERVICE_TAG: addon.type,
    }
    if cost_center:
        found[AWS_COST_CENTER_TAG] = cost_center
    if cluster:
        found[AWS_CLUSTER_TAG] = cluster
    return found


def plan_one(addon: Addon, cost_center: str | None, cluster: str | None = None) -> dict[str, Any]:
    ref = addon.ref()
    spec = addon.plan.raw or {}
    out: dict[str, Any] = {
        "name": addon.name,
        "tenant": addon.tenant,
        "environment": addon.environment,
        "namespace": addon.namespace,
        "type": addon.type,
        "plan": addon.plan.name,
        "monthly": str(addon.plan.monthly),
        "user": ref.ident,
        "database": ref.ident,
        "secret_name": secret_name(addon.tenant, addon.name),
        "tags": tags(addon, cost_center, cluster),
    }
    if addon.type in ("postgresql", "mysql"):
        out["id"] = "pk-" + ref.ident.replace("_", "-")
        out["engine"], out["port"] = ENGINES[addon.type]
        out["engine_version"] = addon.plan.version
        out["instance_class"] = spec.get("instance_class") or DEFAULT_CLASS[addon.type]
        out["storage_gib"] = max(20, int((addon.plan.storage / GIB).to_integral_value(ROUND_CEILING)))
        out["multi_az"] = addon.plan.ha
        out["backup_days"] = 7 if addon.plan.backups else 0
    elif addon.type == "redis":
        out["id"] = "pk-" + _digest(addon)
        out["engine"], out["port"] = ENGINES["redis"]
        out["engine_version"] = addon.plan.version
        out["instance_class"] = spec.get("instance_class") or DEFAULT_CLASS["redis"]
        out["nodes"] = 1
    elif addon.type == "bucket":
        out["id"] = ("platykus-%s-%s" % (addon.tenant, addon.name))[:52] + "-" + _digest(addon)
    elif addon.type == "kafka":
        out["id"] = "pk-" + _digest(addon)
        out["port"] = MSK_SCRAM_PORT
        out["engine_version"] = addon.plan.version
        out["instance_class"] = spec.get("instance_class") or DEFAULT_CLASS["kafka"]
        # EBS per broker, in GiB (MSK: 1 to 16384).
        out["storage_gib"] = max(1, int((addon.plan.storage / GIB).to_integral_value(ROUND_CEILING)))
        out["configuration"] = out["id"]
        out["server_properties"] = dict(MSK_SERVER_PROPERTIES)
        out["scram_secret_name"] = MSK_SECRET_PREFIX + out["secret_name"]
        if cluster:
            out["security_group"] = "%s-kafka-%s" % (cluster, out["id"])
    return out


def aws_plan(requests: Any, catalog_raw: Any, tenants: Any = (), cluster: str | None = None) -> list[dict[str, Any]]:
    """The aws add-ons among ``requests`` (validated as the addon module validates them), planned;
    ``cluster`` (the EKS cluster's name) tags them and names their security groups."""
    catalog = validate_catalog(catalog_raw)
    addons = validate_requests(requests, catalog)
    centers = {t.get("name"): t.get("cost_center") for t in tenants or () if isinstance(t, Mapping)}
    return [plan_one(addon, centers.get(addon.tenant), cluster) for addon in addons if addon.provider == "aws"]


def external_secret_labels(addon: Addon) -> dict[str, str]:
    """The labels of an aws add-on's ExternalSecret and of the Secret it makes (those of every add-on's Secret)."""
    return {
        MANAGED_BY_LABEL: MANAGED_BY_VALUE,
        TENANT_LABEL: addon.tenant,
        DATA_SERVICE_LABEL: addon.type,
        ADDON_LABEL: addon.name,
    }


def render_external_secret(addon: Addon) -> dict[str, Any]:
    """The ExternalSecret that brings ``platykus/<tenant>/addons/<name>`` into the tenant's namespace
    as Secret ``addon-<name>`` (host, port, user, password, database, url) through the tenant's own
    SecretStore, labelled and annotated like the other providers' add-on Secrets, so apps get
    ``<AS>_URL`` from its ``url`` key and the offboarding guard and the quota see it."""
    labels = external_secret_labels(addon)
    notes = {ADDON_PLAN_ANNOTATION: addon.plan.name, ADDON_PROVIDER_ANNOTATION: addon.provider}
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {"name": addon.secret_name, "namespace": addon.namespace, "labels": labels, "annotations": notes},
        "spec": {
            "refreshInterval": "1h",
            "secretStoreRef": secret_store_ref(addon.tenant),
            "target": {
                "name": addon.secret_name,
                "creationPolicy": "Owner",
                "template": {"type": "Opaque", "metadata": {"labels": labels, "annotations": notes}},
            },
            "dataFrom": [{"extract": {"key": secret_name(addon.tenant, addon.name)}}],
        },
    }
