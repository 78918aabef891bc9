# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every Platykus module does before its own work: build the module, check the client library."""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.platykus.platform.plugins.module_utils._kube import HAS_KUBERNETES, KUBERNETES_IMPORT_ERROR


def platykus_module(argument_spec: dict, **kwargs) -> AnsibleModule:
    """An AnsibleModule with check mode, failing cleanly when the ``kubernetes`` library is missing."""
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True, **kwargs)
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=str(KUBERNETES_IMPORT_ERROR))
    return module
