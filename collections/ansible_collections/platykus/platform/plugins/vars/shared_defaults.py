# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The variables every inventory shares, read from one folder instead of a copy per inventory."""

from __future__ import annotations

DOCUMENTATION = r"""
name: shared_defaults
short_description: Variables every inventory shares, from one folder, overridable per inventory
version_added: 1.1.0
author:
  - Platykus engineers (@platykus)
description:
  - Loads every C(.yml)/C(.yaml) file of one folder as variables of the C(all) group, so the plans
    catalog, the tenant-spec loader, the price catalog and the app playbooks' module defaults are
    written once for the lab, aws and generic inventories.
  - Each inventory's own C(group_vars/all) wins, so an inventory keeps only what differs. Ansible
    runs collection vars plugins after C(host_group_vars) and the later plugin would win, so this
    plugin leaves out every name the inventory's C(group_vars/all) sets. Host variables and other
    groups' variables take precedence over the C(all) group as usual.
  - A key given twice across the folder's files is refused, naming both files, rather than the
    later file silently winning.
requirements:
  - Enabled in configuration (C(vars_plugins_enabled)).
options:
  path:
    description:
      - The folder. A relative path is taken from the folder of the C(ansible.cfg) in use
        (the project root for AWX), or from the current directory without one.
    type: str
    default: vars
    ini:
      - section: platykus_shared_defaults
        key: path
    env:
      - name: PLATYKUS_SHARED_DEFAULTS
  stage:
    description:
      - C(inventory) by default, so the shared variables sit with the inventory's own (and yield to
        them); at the C(task) stage Ansible would pass the playbook's folder instead.
    default: inventory
    ini:
      - section: platykus_shared_defaults
        key: stage
    env:
      - name: PLATYKUS_SHARED_DEFAULTS_STAGE
extends_documentation_fragment:
  - ansible.builtin.vars_plugin_staging
"""

import os

from ansible import constants as C
from ansible.errors import AnsibleParserError
from ansible.inventory.group import InventoryObjectType
from ansible.plugins.vars import BaseVarsPlugin

EXTENSIONS = (".yml", ".yaml")


def _folder(option: str) -> str:
    if os.path.isabs(option):
        return option
    base = os.path.dirname(C.CONFIG_FILE) if C.CONFIG_FILE else os.getcwd()
    return os.path.join(base, option)


def _files(folder: str) -> list[str]:
    if not os.path.isdir(folder):
        raise AnsibleParserError(
            "platykus.platform.shared_defaults: %s is not a folder; set path in [platykus_shared_defaults] "
            "of ansible.cfg (or PLATYKUS_SHARED_DEFAULTS) to the folder of the shared variables" % folder
        )
    names = sorted(name for name in os.listdir(folder) if name.endswith(EXTENSIONS) and not name.startswith("."))
    return [os.path.join(folder, name) for name in names]


def _inventory_names(loader, path: str) -> set[str]:
    """The names the inventory's own group_vars/all sets (they win over the shared ones)."""
    folder = os.path.join(os.path.realpath(path), "group_vars")
    if not os.path.isdir(folder):
        return set()
    names: set[str] = set()
    for found in loader.find_vars_files(folder, "all"):
        loaded = loader.load_from_file(found, cache="all", unsafe=True, trusted_as_template=True)
        names.update(loaded if isinstance(loaded, dict) else ())
    return names


class VarsModule(BaseVarsPlugin):
    is_stateless = True

    def get_vars(self, loader, path, entities, cache=True):
        super().get_vars(loader, path, entities)
        entities = entities if isinstance(entities, list) else [entities]
        if not any(e.base_type is InventoryObjectType.GROUP and e.name == "all" for e in entities):
            return {}
        data: dict = {}
        origin: dict[str, str] = {}
        own = _inventory_names(loader, path)
        for found in _files(_folder(self.get_option("path"))):
            loaded = loader.load_from_file(found, cache="all", unsafe=True, trusted_as_template=True)
            if loaded is None:
                continue
            if not isinstance(loaded, dict):
                raise AnsibleParserError("%s: shared variables must be a mapping of names to values" % found)
            for key, value in loaded.items():
                if key in data:
                    raise AnsibleParserError(
                        "%s is set in both %s and %s; keep it in one file" % (key, origin[key], found)
                    )
                data[key], origin[key] = value, found
        return {key: value for key, value in data.items() if key not in own}
