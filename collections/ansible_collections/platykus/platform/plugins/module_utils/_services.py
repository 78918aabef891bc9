# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The platform service catalog turned into a release plan.

Pure data in, pure data out: the catalog (catalog/services.yml), the provider and the inventory's
switches and overrides become one ordered list of releases, each with its final values and the
non-chart objects that go with it. Roles install it; plan mode writes it down. Nothing here talks
to a cluster.
"""

from __future__ import annotations

import copy
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._errors import PlatykusError

POD_SECURITY_LEVELS = ("restricted", "baseline", "privileged")
PROVIDERS = ("aws", "generic", "lab")
OVERRIDE_KEYS = {"enabled", "values", "version", "repository", "namespace"}
IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def deep_merge(base: Any, override: Any) -> Any:
    """Dicts merge key by key; anything else (lists included) is replaced by the override."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = deep_merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    return copy.deepcopy(override)


def _node(values: dict, path: str) -> dict:
    """The dict at a dotted path (``controller.serviceAccount.annotations``), created when missing."""
    node = values
    for part in path.split(".") if path else []:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    return node


def _set_path(values: dict, path: str, value: Any) -> None:
    """Set a dotted path (``global.priorityClassName``) in nested dicts."""
    parent, key = path.rpartition(".")[::2]
    _node(values, parent)[key] = value


def _check_service(name: str, spec: dict, stages: list[str]) -> None:
    missing = [key for key in ("chart", "repository", "version", "namespace", "stage", "providers") if not spec.get(key)]
    if missing:
        raise PlatykusError(f"Service catalog entry '{name}' lacks {', '.join(missing)}", field=name)
    if spec["stage"] not in stages:
        raise PlatykusError(
            f"Service catalog entry '{name}': stage '{spec['stage']}' is not in the stages ({', '.join(stages)})",
            field=name,
        )
    unknown = sorted(set(spec["providers"]) - set(PROVIDERS))
    if unknown:
        raise PlatykusError(f"Service catalog entry '{name}': unknown providers {', '.join(unknown)}", field=name)
    level = spec.get("pod_security", "restricted")
    if level not in POD_SECURITY_LEVELS:
        raise PlatykusError(
            f"Service catalog entry '{name}': pod_security '{level}' is not one of {', '.join(POD_SECURITY_LEVELS)}",
            field=name,
        )


def _check_switches(catalog: dict, disabled: list[str], overrides: dict) -> None:
    known = ", ".join(sorted(catalog))
    for name in disabled:
        if name not in catalog:
            raise PlatykusError(f"platykus_services_disabled: '{name}' is not a catalog service ({known})", field=name)
    for name, override in overrides.items():
        if name not in catalog:
            raise PlatykusError(f"platykus_service_overrides: '{name}' is not a catalog service ({known})", field=name)
        if not isinstance(override, dict):
            raise PlatykusError(f"platykus_service_overrides.{name} must be a dict", field=name)
        extra = sorted(set(override) - OVERRIDE_KEYS)
        if extra:
            raise PlatykusError(
                f"platykus_service_overrides.{name}: unknown keys {', '.join(extra)} "
                f"(allowed: {', '.join(sorted(OVERRIDE_KEYS))})",
                field=name,
            )
        if "values" in override and not isinstance(override["values"], dict):
            raise PlatykusError(f"platykus_service_overrides.{name}.values must be a dict", field=name)


def _objects(name: str, spec: dict, provider: str, namespace: str) -> list[dict]:
    objects = []
    for item in spec.get("objects") or []:
        if provider not in (item.get("providers") or spec["providers"]):
            continue
        definition = copy.deepcopy(item["definition"])
        metadata = definition.setdefault("metadata", {})
        if item.get("namespaced"):
            metadata["namespace"] = namespace
        labels = metadata.setdefault("labels", {})
        labels.setdefault("app.kubernetes.io/managed-by", "platykus")
        labels["platykus.io/service"] = name
        objects.append(definition)
    return objects


def service_plan(
    catalog: dict,
    stages: list[str],
    provider: str,
    disabled: list[str] | None = None,
    overrides: dict | None = None,
    mirror: str | None = None,
    aws_account_id: str = "",
    aws_partition: str = "aws",
) -> list[dict]:
    """Every catalog service for ``provider`` in stage order, with its state and final values.

    A service is ``present`` unless the catalog's ``enabled`` is false, it is listed in ``disabled``
    or its override sets ``enabled: false``; then it is ``absent`` (its release is uninstalled).
    Services of other providers are left out altogether.
    """
    disabled = list(disabled or [])
    overrides = dict(overrides or {})
    if provider not in PROVIDERS:
        raise PlatykusError(f"provider '{provider}' is not one of {', '.join(PROVIDERS)}", field="provider")
    _check_switches(catalog, disabled, overrides)
    plan = []
    for name, spec in catalog.items():
        _check_service(name, spec, stages)
        if provider not in spec["providers"]:
            continue
        override = overrides.get(name) or {}
        enabled = _truthy(override.get("enabled", spec.get("enabled", True))) and name not in disabled
        namespace = override.get("namespace") or spec["namespace"]
        repository = override.get("repository") or spec["repository"]
        version = str(override.get("version") or spec["version"])
        values = deep_merge(spec.get("values") or {}, (spec.get("provider_values") or {}).get(provider) or {})
        for path in spec.get("priority_class_values") or []:
            _set_path(values, path, spec["priority_class"])
        irsa = spec.get("irsa") if provider == "aws" else None
        if irsa:
            if not aws_account_id:
                raise PlatykusError(
                    f"Service '{name}' needs an IRSA role but platykus_aws_account_id is empty", field=name
                )
            arn = f"arn:{aws_partition}:iam::{aws_account_id}:role/{irsa['role']}"
            for path in irsa.get("service_account_values") or []:
                _node(values, path)[IRSA_ANNOTATION] = arn
        values = deep_merge(values, override.get("values") or {})
        if mirror:
            chart_ref, chart_repo_url = spec["chart"], mirror
        elif repository.startswith("oci://"):
            chart_ref, chart_repo_url = f"{repository.rstrip('/')}/{spec['chart']}", None
        else:
            chart_ref, chart_repo_url = spec["chart"], repository
        entry = {
            "service": name,
            "stage": spec["stage"],
            "state": "present" if enabled else "absent",
            "release": spec.get("release") or name,
            "namespace": namespace,
            "chart": spec["chart"],
            "repository": repository,
            "chart_ref": chart_ref,
            "chart_repo_url": chart_repo_url,
            "version": version,
            "pod_security": spec.get("pod_security", "restricted"),
            "priority_class": spec.get("priority_class"),
            "wait": _truthy(spec.get("wait", True)),
            "aggregate_cluster_roles": list(spec.get("aggregate_cluster_roles") or []),
            "values": values,
            "objects": _objects(name, spec, provider, namespace),
        }
        if irsa:
            entry["irsa"] = {"role": irsa["role"], "role_arn": arn, "policy": irsa.get("policy") or {}}
        plan.append(entry)
    order = {stage: index for index, stage in enumerate(stages)}
    return sorted(plan, key=lambda entry: order[entry["stage"]])


def namespace_pod_security(
    namespaces: list[str], levels: dict, default_level: str, releases: list[dict]
) -> dict[str, str]:
    """The pod-security level of every platform namespace: the most permissive any present service needs.

    ``namespaces``/``levels``/``default_level`` come from the inventory; ``releases`` from service_plan.
    """
    for namespace, level in {**levels, "<default>": default_level}.items():
        if level not in POD_SECURITY_LEVELS:
            raise PlatykusError(
                f"pod-security level '{level}' for {namespace} is not one of {', '.join(POD_SECURITY_LEVELS)}",
                field=namespace,
            )
    result = {namespace: levels.get(namespace, default_level) for namespace in namespaces}
    for release in releases:
        if release.get("state", "present") != "present":
            continue
        namespace, needed = release["namespace"], release.get("pod_security", "restricted")
        current = result.get(namespace, levels.get(namespace, default_level))
        result[namespace] = max(current, needed, key=POD_SECURITY_LEVELS.index)
    return result


PLAN_RELEASE_KEYS = (
    "service",
    "release",
    "namespace",
    "chart",
    "repository",
    "version",
    "pod_security",
    "priority_class",
    "aggregate_cluster_roles",
    "irsa",
    "values",
)


def stage_plan(releases: list[dict], stage: str) -> dict:
    """What one stage would do, for people to read: releases to install, releases to remove, objects to apply."""
    selected = [release for release in releases if release["stage"] == stage]
    present = [release for release in selected if release["state"] == "present"]
    return {
        "stage": stage,
        "releases": [{key: release[key] for key in PLAN_RELEASE_KEYS if key in release} for release in present],
        "uninstall": [
            {"release": release["release"], "namespace": release["namespace"]}
            for release in selected
            if release["state"] == "absent"
        ],
        "objects": [obj for release in present for obj in release["objects"]],
    }
