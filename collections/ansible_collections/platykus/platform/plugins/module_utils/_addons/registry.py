# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Imports every add-on provider, so each registers itself (providers.register).

Ansible bundles a module's module_utils by their static imports: a provider module is only
available to the addon module when it is imported here.
"""

from __future__ import annotations

from ansible_collections.platykus.platform.plugins.module_utils._addons import kafka, local

# The provider modules, each registered on import.
PROVIDER_MODULES = (kafka, local)
PROVIDERS_LOADED = bool(PROVIDER_MODULES)
