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
- every add-on: its connection values in Secrets Manager as ``platykus/<tenant>/addons/<name>``,
  the prefix the tenant's SecretStore reads, tagged with the tenant and its cost centre.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from decimal import ROUND_CEILING, Decimal
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._addons import (
    Addon,
    validate_catalog,
    validate_requests,
)
from ansible_collections.platykus.platform.plugins.module_utils._names import (
    AWS_ADDON_TAG,
    AWS_COST_CENTER_TAG,
    AWS_DATA_SERVICE_TAG,
    AWS_MANAGED_BY_TAG,
    AWS_TENANT_TAG,
    MANAGED_BY_VALUE,
)
from ansible_collections.platykus.platform.plugins.module_utils._tenant_aws import SECRET_ROOT

ENGINES = {"postgresql": ("postgres", 5432), "mysql": ("mysql", 3306), "redis": ("redis", 6379)}
DEFAULT_CLASS = {"postgresql": "db.t3.micro", "mysql": "db.t3.micro", "redis": "cache.t3.micro"}
GIB = Decimal(2**30)


def _digest(addon: Addon) -> str:
    return hashlib.sha256(("%s/%s" % (addon.tenant, addon.name)).encode()).hexdigest()[:10]


def secret_name(tenant: str, name: str) -> str:
    """Under the tenant's prefix (``platykus/<tenant>/``), which its SecretStore may read."""
    return "%s/%s/addons/%s" % (SECRET_ROOT, tenant, name)


def tags(addon: Addon, cost_center: str | None) -> dict[str, str]:
    # AWS tag keys, not the Kubernetes labels: Cost Explorer and Budgets read these (_names).
    found = {
        AWS_MANAGED_BY_TAG: MANAGED_BY_VALUE,
        AWS_TENANT_TAG: addon.tenant,
        AWS_ADDON_TAG: addon.name,
        AWS_DATA_SERVICE_TAG: addon.type,
    }
    if cost_center:
        found[AWS_COST_CENTER_TAG] = cost_center
    return found


def plan_one(addon: Addon, cost_center: str | None) -> dict[str, Any]:
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
        "tags": tags(addon, cost_center),
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
    else:
        out["unsupported"] = (
            "kafka add-ons on the aws provider (MSK) are not made by Platykus yet; use the operator provider"
        )
    return out


def aws_plan(requests: Any, catalog_raw: Any, tenants: Any = ()) -> list[dict[str, Any]]:
    """The aws add-ons among ``requests`` (validated as the addon module validates them), planned."""
    catalog = validate_catalog(catalog_raw)
    addons = validate_requests(requests, catalog)
    centers = {t.get("name"): t.get("cost_center") for t in tenants or () if isinstance(t, Mapping)}
    return [plan_one(addon, centers.get(addon.tenant)) for addon in addons if addon.provider == "aws"]
