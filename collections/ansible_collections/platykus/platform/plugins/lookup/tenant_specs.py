# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lookup reading an inventory's tenant spec files (logic in module_utils/_spec_files.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: tenant_specs
author:
  - Platykus engineers (@platykus)
short_description: Read the tenant spec files of an inventory, safely
description:
  - Returns one dict per C(*.yml) file of each directory, in file-name order; a directory that does
    not exist holds no tenants.
  - Each file must hold one non-empty mapping. An empty file, a list, a single value or more than one
    YAML document fails the lookup, naming the file and what to write instead.
  - Files are read with a safe loader that refuses YAML alias bombs before expanding them (more than
    100 alias uses, aliases that expand the document past 10000 nodes, recursive anchors), files
    larger than 256 KiB and nesting deeper than 64 levels.
  - Every file is read before the lookup fails, so one error lists every bad file.
options:
  _terms:
    description: Directories holding the tenant spec files, normally C(inventories/<env>/tenants).
    type: list
    elements: path
    required: true
notes:
  - Use it with C(query) (or C(wantlist=true)) so that one spec file still gives a list.
"""

EXAMPLES = r"""
# inventories/<env>/group_vars/all/tenants.yml
platykus_tenants: "{{ query('platykus.platform.tenant_specs', inventory_dir ~ '/tenants') }}"
"""

RETURN = r"""
_raw:
  description: The tenant specs, one dict per file.
  type: list
  elements: dict
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.platykus.platform.plugins.module_utils._errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._spec_files import load_spec_dir


class LookupModule(LookupBase):
    """platykus.platform.tenant_specs"""

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        specs = []
        for directory in terms:
            try:
                specs.extend(load_spec_dir(self._loader.path_dwim(directory)))
            except PlatykusError as err:
                raise AnsibleLookupError(f"Failed to read the tenant specs: {err}") from err
        return specs
