#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: tenant_kubeconfig
short_description: Write a short-lived kubeconfig of a tenant namespace's CI ServiceAccount
version_added: 0.2.0
description:
  - Requests a token of the ServiceAccount C(ci-deployer) in O(namespace) (TokenRequest, expiring after O(duration)
    seconds) and writes a kubeconfig with it to O(dest), readable by its owner only.
  - Run by the platform (creating ServiceAccount tokens is not a tenant right); the app playbooks then run with
    the tenant's rights only (role C(tenant-developer)), never cluster-admin.
  - Always reports a change, and writes nothing in check mode.
author:
  - Platykus engineers (@platykus)
extends_documentation_fragment:
  - platykus.platform.kubeconfig
attributes:
  check_mode:
    support: full
    description: Requests no token and writes no file.
  diff_mode:
    support: none
    description: The kubeconfig holds a token; no diff is shown.
options:
  namespace:
    description:
      - The tenant namespace, C(<tenant>-<environment>).
    type: str
    required: true
  dest:
    description:
      - Where to write the kubeconfig.
    type: path
    required: true
  duration:
    description:
      - Seconds the token is valid (at least 600).
    type: int
    default: 3600
"""

EXAMPLES = r"""
- name: A kubeconfig for acme-dev's pipeline
  platykus.platform.tenant_kubeconfig:
    namespace: acme-dev
    dest: /tmp/acme-dev.kubeconfig
"""

RETURN = r"""
path:
  description: The kubeconfig written.
  returned: success
  type: str
user:
  description: The identity the kubeconfig authenticates as.
  returned: success
  type: str
  sample: system:serviceaccount:acme-dev:ci-deployer
"""

import json
import traceback

from ansible_collections.platykus.platform.plugins.module_utils._apps.identity import write_tenant_kubeconfig
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.kube import KUBE_ARGUMENT_SPEC, client_factory
from ansible_collections.platykus.platform.plugins.module_utils._core.module import platykus_module


def main() -> None:
    module = platykus_module(
        dict(
            namespace=dict(type="str", required=True),
            dest=dict(type="path", required=True),
            duration=dict(type="int", default=3600),
            **KUBE_ARGUMENT_SPEC,
        )
    )
    params = module.params
    if module.check_mode:
        module.exit_json(changed=True, path=params["dest"])
    try:
        result = write_tenant_kubeconfig(
            client_factory(params), params["namespace"], params["dest"], params["duration"], json.dumps
        )
    except (PlatykusError, OSError) as err:
        module.fail_json(
            msg="Failed to write a kubeconfig for %s: %s" % (params["namespace"], err), exception=traceback.format_exc()
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
