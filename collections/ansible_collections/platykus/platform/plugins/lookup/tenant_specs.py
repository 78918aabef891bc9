# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lookup reading the spec files tenants write: tenants, apps, add-ons (logic in module_utils/_core/spec_files.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: tenant_specs
author:
  - Platykus engineers (@platykus)
short_description: Read the spec files of an inventory (tenants, apps, add-ons), safely
description:
  - Returns one dict per spec file, in the order of the terms; a directory gives its C(*.yml) files
    in file-name order, and a directory that does not exist holds none. A C(.yml) or C(.yaml) file
    named that does not exist fails the lookup.
  - Each file must hold one non-empty mapping. An empty file, a list, a single value or more than one
    YAML document fails the lookup, naming the file and what to write instead.
  - Files are read with a safe loader that refuses YAML alias bombs before expanding them (more than
    100 alias uses, aliases that expand the document past 10000 nodes, recursive anchors), files
    larger than 256 KiB and nesting deeper than 64 levels.
  - A key given twice in one mapping fails the lookup, naming the file, the key's path (for example
    C(tenants[acme].owners.admin)) and both lines; a key written beside a merge key (C(<<)) overrides
    the merged one, as YAML says, and is no duplicate.
  - The same spec in two files (a tenant's C(name); an app's C(tenant), C(environment) and C(name);
    an add-on's C(tenant) and C(name)) fails the lookup, naming both files.
  - Every file is read before the lookup fails, so one error lists every bad file.
options:
  _terms:
    description:
      - Spec files, or directories holding them, normally C(inventories/<env>/tenants).
      - Relative paths are looked up from the playbook's directory, then from the current directory.
    type: list
    elements: path
    required: true
  kind:
    description: What the files hold; it words the messages and decides what makes two specs the same.
    type: str
    choices: [tenant, app, add-on]
    default: tenant
notes:
  - Use it with C(query) (or C(wantlist=true)) so that one spec file still gives a list.
"""

EXAMPLES = r"""
# inventories/<env>/group_vars/all/tenants.yml
platykus_tenants: "{{ query('platykus.platform.tenant_specs', inventory_dir ~ '/tenants') }}"

# An app spec file and every add-on request of two tenants
app_specs: "{{ query('platykus.platform.tenant_specs', 'inventories/lab/apps/acme/shop.yml', kind='app') }}"
addon_requests: "{{ query('platykus.platform.tenant_specs', 'addons/acme', 'addons/globex', kind='add-on') }}"
"""

RETURN = r"""
_raw:
  description: The specs, one dict per file.
  type: list
  elements: dict
"""

import os

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.spec_files import load_specs


class LookupModule(LookupBase):
    """platykus.platform.tenant_specs"""

    def _path(self, term: str) -> str:
        found = self._loader.path_dwim(term)
        if not os.path.exists(found) and os.path.exists(term):
            return os.path.abspath(term)  # -e app_file=deploy/app.yml from a tenant's repository
        return found

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        kind = self.get_option("kind")
        try:
            return load_specs([self._path(term) for term in terms], kind)
        except PlatykusError as err:
            raise AnsibleLookupError(f"Failed to read the {kind} specs: {err}") from err
