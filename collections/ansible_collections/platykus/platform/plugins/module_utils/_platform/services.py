# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The platform service catalog turned into a release plan.

Pure data in, pure data out: the catalog (catalog/services.yml, itself pure data), the provider,
the inventory settings the catalog names as ${name}, and the inventory's switches and overrides
become one ordered list of releases, each with its final values and the non-chart objects that go
with it. Roles install it; plan mode writes it down. Nothing here talks to a cluster.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    POD_SECURITY_LEVELS,
    SERVICE_LABEL,
)

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
    missing = [
        key for key in ("chart", "repository", "version", "namespace", "stage", "providers") if not spec.get(key)
    ]
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
        labels.setdefault(MANAGED_BY_LABEL, MANAGED_BY_VALUE)
        labels[SERVICE_LABEL] = name
        objects.append(definition)
    return objects


# -- inventory settings in the catalog ----------------------------------------------------------
# The catalog is pure data; a string names an inventory setting as ${name} (``$${name}`` is the
# literal text). Only braced lower-case names count, so chart values such as ``$HOME`` or
# ``${ENV_VAR}`` pass through untouched.
PARAMETER = re.compile(r"\$(\$?)\{([a-z_][a-z0-9_]*)\}")
# The setting IRSA role ARNs are built from.
ACCOUNT_SETTING = "platykus_aws_account_id"


def substitute(data: Any, settings: Mapping[str, Any], where: str) -> Any:
    """``data`` with every ${name} replaced by ``settings[name]``; dict keys are left alone.

    A string that is exactly one ${name} becomes the setting itself (a number stays a number).
    """
    if isinstance(data, dict):
        return {key: substitute(value, settings, f"{where}.{key}") for key, value in data.items()}
    if isinstance(data, list):
        return [substitute(value, settings, f"{where}[{index}]") for index, value in enumerate(data)]
    if not isinstance(data, str) or "${" not in data:
        return data

    def value(match: re.Match) -> Any:
        escaped, name = match.groups()
        if escaped:
            return "${%s}" % name
        if name not in settings:
            raise PlatykusError(
                f"{where}: ${{{name}}} is not one of platykus_catalog_parameters ({', '.join(sorted(settings))})",
                field=where,
            )
        return settings[name]

    whole = PARAMETER.fullmatch(data)
    if whole and not whole.group(1):
        return value(whole)
    return PARAMETER.sub(lambda match: str(value(match)), data)


def resolve_parameters(declared: Mapping[str, Any], inventory: Mapping[str, Any]) -> dict[str, Any]:
    """The value of every catalog parameter: the inventory's, else the declared default.

    An unset or empty setting takes the default, which may name an earlier parameter; a parameter
    declared without a default (``~``) must be set by the inventory.
    """
    resolved: dict[str, Any] = {}
    for name, default in declared.items():
        value = inventory[name] if name in inventory else None
        if value is None or value == "":
            if default is None:
                raise PlatykusError(
                    f"The service catalog needs {name}: set it in the inventory (group_vars/all/cluster.yml)",
                    field=name,
                )
            value = substitute(default, resolved, f"platykus_catalog_parameters.{name}")
        resolved[name] = value
    return resolved


def _enabled(name: str, spec: dict, settings: Mapping[str, Any], override: dict, disabled: list[str]) -> bool:
    """Off when the catalog, an enabled_when condition, the override or the disabled list says so."""
    enabled = _truthy(override.get("enabled", spec.get("enabled", True))) and name not in disabled
    for setting, wanted in (spec.get("enabled_when") or {}).items():
        if setting not in settings:
            raise PlatykusError(
                f"Service catalog entry '{name}': enabled_when names '{setting}', "
                f"which is not one of platykus_catalog_parameters",
                field=name,
            )
        enabled = enabled and settings[setting] in (wanted if isinstance(wanted, list) else [wanted])
    return enabled


def _chart_source(chart: str, repository: str, mirror: str | None) -> tuple[str, str | None]:
    """(chart_ref, chart_repo_url) for kubernetes.core.helm: a mirror, an OCI reference or a repository."""
    if mirror:
        return chart, mirror
    if repository.startswith("oci://"):
        return f"{repository.rstrip('/')}/{chart}", None
    return chart, repository


def _irsa(name: str, spec: dict, provider: str, settings: Mapping[str, Any], partition: str) -> dict | None:
    """The IRSA role of an aws service, with its ARN; None elsewhere."""
    irsa = spec.get("irsa") if provider == "aws" else None
    if not irsa:
        return None
    account = str(settings.get(ACCOUNT_SETTING) or "")
    if not account:
        raise PlatykusError(f"Service '{name}' needs an IRSA role but {ACCOUNT_SETTING} is empty", field=name)
    arn = f"arn:{partition}:iam::{account}:role/{irsa['role']}"
    return {**irsa, "role_arn": arn}


def _values(spec: dict, provider: str, irsa: dict | None, override: dict) -> dict:
    """Catalog values, then provider values, then PriorityClass and IRSA annotation, then the override."""
    values = deep_merge(spec.get("values") or {}, (spec.get("provider_values") or {}).get(provider) or {})
    for path in spec.get("priority_class_values") or []:
        _set_path(values, path, spec["priority_class"])
    for path in (irsa or {}).get("service_account_values") or []:
        _node(values, path)[IRSA_ANNOTATION] = irsa["role_arn"]
    return deep_merge(values, override.get("values") or {})


def _release(
    name: str, spec: dict, provider: str, state: str, override: dict, mirror: str | None, irsa: dict | None
) -> dict:
    namespace = override.get("namespace") or spec["namespace"]
    repository = override.get("repository") or spec["repository"]
    chart_ref, chart_repo_url = _chart_source(spec["chart"], repository, mirror)
    entry = {
        "service": name,
        "stage": spec["stage"],
        "state": state,
        "release": spec.get("release") or name,
        "namespace": namespace,
        "chart": spec["chart"],
        "repository": repository,
        "chart_ref": chart_ref,
        "chart_repo_url": chart_repo_url,
        "version": str(override.get("version") or spec["version"]),
        "pod_security": spec.get("pod_security", "restricted"),
        "priority_class": spec.get("priority_class"),
        "wait": _truthy(spec.get("wait", True)),
        "aggregate_cluster_roles": list(spec.get("aggregate_cluster_roles") or []),
        "values": _values(spec, provider, irsa, override),
        "objects": _objects(name, spec, provider, namespace),
    }
    if irsa:
        entry["irsa"] = {"role": irsa["role"], "role_arn": irsa["role_arn"], "policy": irsa.get("policy") or {}}
    return entry


def service_plan(
    catalog: dict,
    stages: list[str],
    provider: str,
    settings: Mapping[str, Any] | None = None,
    disabled: list[str] | None = None,
    overrides: dict | None = None,
    mirror: str | None = None,
    aws_partition: str = "aws",
) -> list[dict]:
    """Every catalog service for ``provider`` in stage order, with its state and final values.

    ``settings`` are the resolved catalog parameters (resolve_parameters); every ${name} in a
    service is replaced by its value first. A service is ``present`` unless the catalog's
    ``enabled``/``enabled_when``, the ``disabled`` list or its override's ``enabled: false`` say
    otherwise; then it is ``absent`` (its release is uninstalled). Services of other providers are
    left out altogether.
    """
    settings = dict(settings or {})
    disabled = list(disabled or [])
    overrides = dict(overrides or {})
    if provider not in PROVIDERS:
        raise PlatykusError(f"provider '{provider}' is not one of {', '.join(PROVIDERS)}", field="provider")
    _check_switches(catalog, disabled, overrides)
    plan = []
    for name, raw in catalog.items():
        spec = substitute(raw, settings, f"platykus_catalog_services.{name}")
        _check_service(name, spec, stages)
        if provider not in spec["providers"]:
            continue
        override = overrides.get(name) or {}
        state = "present" if _enabled(name, spec, settings, override, disabled) else "absent"
        irsa = _irsa(name, spec, provider, settings, aws_partition)
        plan.append(_release(name, spec, provider, state, override, mirror, irsa))
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
