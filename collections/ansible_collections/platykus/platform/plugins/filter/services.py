# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that turn the platform service catalog into releases (logic in module_utils/_platform/services.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: service_plan
short_description: The platform service catalog as an ordered list of releases
description:
  - Selects the catalog services of a provider, applies the inventory's switches and overrides and
    returns one entry per release, in stage order, with its state, chart reference and final values.
  - The same module also provides C(namespace_pod_security).
options:
  _input:
    description: The catalog (platykus_catalog_services), service name to entry.
    type: dict
    required: true
  stages:
    description: The ordered stages (platykus_catalog_stages).
    type: list
    elements: str
    required: true
  provider:
    description: aws, generic or lab.
    type: str
    required: true
  parameters:
    description:
      - The inventory settings the catalog names as C(${name}), each with its default (platykus_catalog_parameters);
        C(null) means the inventory must set it.
    type: dict
  settings:
    description:
      - Where the parameters' values come from, normally C(hostvars[inventory_hostname]); only the
        declared parameters are read from it.
    type: dict
  disabled:
    description: Services switched off (platykus_services_disabled).
    type: list
    elements: str
  overrides:
    description: Per-service enabled/values/version/repository/namespace (platykus_service_overrides).
    type: dict
  mirror:
    description: One chart repository URL that serves every chart (an offline mirror); empty for upstream.
    type: str
"""

EXAMPLES = r"""
- name: Plan the services
  ansible.builtin.set_fact:
    releases: >-
      {{ platykus_catalog_services | platykus.platform.service_plan(
           stages=platykus_catalog_stages, provider='lab',
           parameters=platykus_catalog_parameters, settings=hostvars[inventory_hostname]) }}
"""

RETURN = r"""
_value:
  description: One dict per release (service, stage, state, release, namespace, chart, version, values, objects...).
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._platform.services import (
    namespace_pod_security,
    resolve_parameters,
    service_plan,
    stage_plan,
)


def _service_plan(
    catalog, stages, provider, parameters=None, settings=None, disabled=None, overrides=None, mirror=None
):
    try:
        # Only the declared parameters are read (and so templated) from the host's variables.
        resolved = resolve_parameters(dict(parameters or {}), settings or {})
        return service_plan(
            catalog,
            list(stages),
            provider,
            settings=resolved,
            disabled=disabled,
            overrides=overrides,
            mirror=mirror or None,
        )
    except PlatykusError as err:
        raise AnsibleFilterError(f"Failed to plan the platform services: {err}") from err


def _namespace_pod_security(namespaces, levels, default_level, releases):
    try:
        return namespace_pod_security(list(namespaces), dict(levels or {}), default_level, list(releases or []))
    except PlatykusError as err:
        raise AnsibleFilterError(f"Failed to label the platform namespaces: {err}") from err


def _stage_plan(releases, stage):
    try:
        return stage_plan(list(releases), stage)
    except (KeyError, TypeError) as err:
        raise AnsibleFilterError(
            f"Failed to plan stage '{stage}': releases must come from service_plan ({err})"
        ) from err


class FilterModule:
    """platykus.platform service filters."""

    def filters(self):
        return {
            "service_plan": _service_plan,
            "namespace_pod_security": _namespace_pod_security,
            "stage_plan": _stage_plan,
        }
