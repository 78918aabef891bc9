#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: addon_aws_delivery
short_description: Quota check and credentials delivery of the aws provider's add-ons
version_added: 0.3.0
description:
  - The Kubernetes side of C(playbooks/addon-aws.yml); the AWS resources are made by the bundled
    amazon.aws and community.aws modules (see C(docs/data-services.md)).
  - With O(validate_only=true), validates the catalog and the requests of the C(aws) provider, checks
    that each tenant namespace is onboarded, that no held add-on changes type or namespace, and that
    the tenant's add-ons fit the add-on quota of its plan (count, storage, monthly price), as the
    M(platykus.platform.addon) module does; writes nothing. Run it before any AWS call.
  - With O(state=present), applies as one batch each add-on's ExternalSecret C(addon-<name>) in its
    namespace, on the tenant's own SecretStore, which brings C(platykus/<tenant>/addons/<name>) from
    Secrets Manager as Secret C(addon-<name>) (host, port, user, password, database, url), labelled
    C(platykus.io/data-service) like the other providers' add-on Secrets.
  - With O(state=absent), deletes the add-ons' ExternalSecrets and their Secrets (only those labelled as the add-on's).
author:
  - Platykus engineers (@platykus)
extends_documentation_fragment:
  - platykus.platform.kubeconfig
attributes:
  check_mode:
    support: full
    description: Server-side dry runs of the ExternalSecrets and deletions.
  diff_mode:
    support: full
    description: Returns the before and after of every changed ExternalSecret.
options:
  state:
    description: V(present) delivers, V(absent) removes.
    type: str
    choices: [present, absent]
    default: present
  addons:
    description: The add-on requests (C(name), C(tenant), C(environment), C(type), C(plan)); only those of the C(aws) provider are handled.
    type: list
    elements: dict
    required: true
  catalog:
    description: The add-on catalog (C(platykus_addons)) with C(providers), C(plans) and C(quota).
    type: dict
    required: true
  validate_only:
    description: Only check the requests, namespaces and quota (O(state=present)); nothing is written.
    type: bool
    default: false
  refresh:
    description:
      - After a rotation (playbooks/addon-rotate.yml), set external-secrets' C(force-sync) annotation
        on each add-on's ExternalSecret to the current time, so its Secret takes the new value at once.
      - Fails, before any write, when an ExternalSecret is missing.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Check the tenants' add-on quota before any AWS call
  platykus.platform.addon_aws_delivery:
    addons: "{{ requests }}"
    catalog: "{{ platykus_addons }}"
    validate_only: true

- name: Deliver the credentials into the tenant namespaces
  platykus.platform.addon_aws_delivery:
    addons: "{{ requests }}"
    catalog: "{{ platykus_addons }}"
"""

RETURN = r"""
checked:
  description: The add-ons checked (C(tenant/name)), with O(validate_only=true).
  returned: when validate_only
  type: list
  elements: str
created:
  description: ExternalSecrets created (C(Kind/namespace/name)).
  returned: when state is present
  type: list
  elements: str
updated:
  description: ExternalSecrets updated.
  returned: when state is present
  type: list
  elements: str
unchanged:
  description: ExternalSecrets already as wanted.
  returned: when state is present
  type: list
  elements: str
removed:
  description: ExternalSecrets and Secrets deleted (C(Kind/namespace/name)).
  returned: when state is absent
  type: list
  elements: str
refreshed:
  description: ExternalSecrets annotated for a refresh (C(namespace/name)).
  returned: when refresh
  type: list
  elements: str
"""

import time
import traceback

from ansible_collections.platykus.platform.plugins.module_utils._addons.aws_delivery import (
    check,
    deliver,
    refresh,
    remove,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.kube import KUBE_ARGUMENT_SPEC, client_factory
from ansible_collections.platykus.platform.plugins.module_utils._core.module import platykus_module

ARGUMENT_SPEC = dict(
    state=dict(type="str", choices=["present", "absent"], default="present"),
    addons=dict(type="list", elements="dict", required=True),
    catalog=dict(type="dict", required=True),
    validate_only=dict(type="bool", default=False),
    refresh=dict(type="bool", default=False),
    **KUBE_ARGUMENT_SPEC,
)


def main() -> None:
    module = platykus_module(ARGUMENT_SPEC)
    params = module.params
    connect = client_factory(params)
    try:
        if params["state"] == "absent":
            result = remove(connect, params["addons"], params["catalog"], check_mode=module.check_mode)
        elif params["refresh"]:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            result = refresh(connect, params["addons"], params["catalog"], stamp, check_mode=module.check_mode)
        elif params["validate_only"]:
            result = check(connect, params["addons"], params["catalog"])
        else:
            result = deliver(
                connect, params["addons"], params["catalog"], check_mode=module.check_mode, diff=module._diff
            )
    except PlatykusError as err:
        module.fail_json(msg=str(err), exception=traceback.format_exc())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
