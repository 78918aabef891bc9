#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: addon
short_description: Create, resize, rotate or destroy a tenant's data-service add-ons
version_added: 0.3.0
description:
  - An add-on is a PostgreSQL, MySQL, Redis, Kafka or bucket service for one tenant environment,
    from a plan of the platform's add-on catalog (see C(docs/data-services.md)).
  - With O(state=present), validates the catalog and every request (listing every problem with its
    field and the fix), checks that the tenant's namespace is onboarded and that the add-ons fit the
    add-on quota of the tenant's plan, then dry-runs the add-ons' objects as one batch; a refusal
    writes nothing, neither on the API server nor on the data servers.
  - It then makes each add-on's database and user (PostgreSQL, MariaDB) or ACL user (Redis) on the
    provider's server, with a generated password, and applies the connection Secret
    C(addon-<name>) (host, port, user, password, database, url), labelled C(platykus.io/data-service),
    with an C(ExternalName) Service (local provider) or the operator's objects (operator provider).
  - A rerun keeps the password in the Secret (no change). A new plan resizes (connection limits on
    the local servers, sizes of the operator objects; a Kafka plan's client quotas, partitions and
    retention on the lab's broker). O(rotate=true) sets a new password on the server
    and in the Secret together; the old one stops working.
  - With O(state=absent), drops the add-ons' databases, users and keys on their servers and deletes
    their objects; with O(tenant) and no O(addons), every add-on of that tenant (forced offboarding).
author:
  - Platykus engineers (@platykus)
extends_documentation_fragment:
  - platykus.platform.kubeconfig
attributes:
  check_mode:
    support: full
    description: Server-side dry runs of the objects; the data servers are only read.
  diff_mode:
    support: full
    description: Returns the before and after of every changed object; Secret values show as hidden.
options:
  state:
    description:
      - V(present) creates or updates the add-ons; V(absent) destroys them.
    type: str
    choices: [present, absent]
    default: present
  addons:
    description:
      - The requests, each with C(name), C(tenant), C(environment), C(type) and C(plan)
        (only C(name), C(tenant) and C(environment) with O(state=absent)).
      - Kafka add-ons also take C(topics), the topic names the platform makes under the add-on's prefix
        with the plan's partitions and retention (default C([events])); the add-on's user cannot make topics.
    type: list
    elements: dict
  apps:
    description:
      - App specs whose C(addons) are requested too (C(name) defaults to C(<app>-<type>)); the app
        reads C(<as>_URL) from the add-on's Secret (see C(docs/data-services.md)).
    type: list
    elements: dict
  tenant:
    description:
      - With O(state=absent) and no O(addons), destroy every add-on of this tenant.
    type: str
  catalog:
    description:
      - The add-on catalog (C(platykus_addons)) with C(providers), C(plans) and C(quota).
    type: dict
  servers:
    description:
      - The folder of the lab's data-service admin records (C(<server>/admin.json)), for the local provider.
      - When not set, C(PLATYKUS_DATA_SERVICES) (exported by C(platykus-lab env)).
    type: path
  rotate:
    description:
      - Give every requested add-on a new password (server and Secret together).
    type: bool
    default: false
requirements:
  - psycopg, PyMySQL and redis for the local provider's types
"""

EXAMPLES = r"""
- name: A PostgreSQL add-on for acme's dev environment
  platykus.platform.addon:
    addons:
      - {name: orders-db, tenant: acme, environment: dev, type: postgresql, plan: standard-0}
    catalog: "{{ platykus_addons }}"
    kubeconfig: "{{ platykus_kubeconfig }}"

- name: A Kafka add-on with two topics, its plan's quotas and retention enforced by the broker
  platykus.platform.addon:
    addons:
      - {name: events, tenant: acme, environment: dev, type: kafka, plan: basic-0, topics: [orders, audit]}
    catalog: "{{ platykus_addons }}"
    kubeconfig: "{{ platykus_kubeconfig }}"

- name: Rotate its password
  platykus.platform.addon:
    addons:
      - {name: orders-db, tenant: acme, environment: dev, type: postgresql, plan: standard-0}
    catalog: "{{ platykus_addons }}"
    rotate: true

- name: Destroy every add-on of a tenant being offboarded
  platykus.platform.addon:
    state: absent
    tenant: acme
"""

RETURN = r"""
addons:
  description: Per add-on its name, tenant, namespace, type, plan, provider, Secret name and monthly price.
  returned: state=present
  type: list
  elements: dict
servers_changed:
  description: Add-ons (tenant/name) whose database, user or ACL changed on their server.
  returned: state=present
  type: list
  elements: str
rotated:
  description: Add-ons (tenant/name) that got a new password.
  returned: state=present
  type: list
  elements: str
created:
  description: Keys (Kind/namespace/name) of the objects created.
  returned: state=present
  type: list
  elements: str
updated:
  description: Keys of the objects changed.
  returned: state=present
  type: list
  elements: str
unchanged:
  description: Keys of the objects already as desired.
  returned: state=present
  type: list
  elements: str
removed:
  description: Add-ons (tenant/name) whose database, user or keys were dropped on their server.
  returned: state=absent
  type: list
  elements: str
deleted:
  description: Keys of the objects deleted.
  returned: state=absent
  type: list
  elements: str
"""

import os
import traceback

from ansible_collections.platykus.platform.plugins.module_utils._addons.local import load_servers
from ansible_collections.platykus.platform.plugins.module_utils._addons.ops import ensure_addons, remove_addons
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.kube import KUBE_ARGUMENT_SPEC, client_factory
from ansible_collections.platykus.platform.plugins.module_utils._core.module import platykus_module

ARGUMENT_SPEC = dict(
    state=dict(type="str", choices=["present", "absent"], default="present"),
    addons=dict(type="list", elements="dict"),
    apps=dict(type="list", elements="dict"),
    tenant=dict(type="str"),
    catalog=dict(type="dict"),
    servers=dict(type="path"),
    rotate=dict(type="bool", default=False),
    **KUBE_ARGUMENT_SPEC,
)


def main() -> None:
    module = platykus_module(
        ARGUMENT_SPEC,
        required_if=[("state", "present", ("catalog",))],
        required_one_of=[("addons", "tenant", "apps")],
    )
    params = module.params
    connect = client_factory(params)
    try:
        servers = load_servers(params["servers"] or os.environ.get("PLATYKUS_DATA_SERVICES"))
        for record in servers.values():
            module.no_log_values.add(str(record.get("password", "")))
        if params["state"] == "absent":
            result = remove_addons(
                connect, params["addons"], servers, tenant=params["tenant"], check_mode=module.check_mode
            )
        else:
            result = ensure_addons(
                connect,
                params["addons"],
                params["catalog"],
                servers,
                rotate=params["rotate"],
                check_mode=module.check_mode,
                diff=module._diff,
                secret_sink=module.no_log_values.add,
                apps=params["apps"],
            )
    except PlatykusError as err:
        module.fail_json(msg=str(err), exception=traceback.format_exc())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
