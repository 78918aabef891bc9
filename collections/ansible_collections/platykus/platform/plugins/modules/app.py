#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: app
short_description: Deploy, scale, configure, roll back or remove a tenant's app
version_added: 0.2.0
description:
  - A Heroku-like app in a tenant namespace C(<tenant>-<environment>), from a small spec (see C(docs/apps.md)).
  - With O(state=present), validates the spec against the platform's app catalog (image registries
    and sizes) and the tenant's domains, listing every problem with its field; checks that the app
    fits the namespace's ResourceQuota and LimitRange, naming the quota when it does not; renders
    the ConfigMap, ExternalSecret, PersistentVolumeClaims, the release Job, per process a Deployment
    (restricted security context, topology spread across zones), PodDisruptionBudget, HorizontalPodAutoscaler
    or CronJob, and for the web process a Service and an Ingress (TLS from the platform ClusterIssuer,
    DNS from external-dns); dry-runs them all as one batch, so a refusal writes nothing.
  - It then applies config, storage, traffic and the release Job, waits for the Job to complete,
    applies the Deployments and CronJobs and waits for the rollout. A rollout not done within
    O(rollout_timeout) puts the previous release back and fails, naming the reason.
  - Every change of image or config is a numbered release kept in the ConfigMap C(<app>-releases);
    O(release) rolls back to an earlier one (as a new release). Scaling is not a release.
  - With O(state=absent), removes every object of the app; O(confirm) must repeat its name.
  - Runs as whoever the kubeconfig names; the playbooks use the tenant's CI ServiceAccount, never cluster-admin.
author:
  - Platykus engineers (@platykus)
extends_documentation_fragment:
  - platykus.platform.kubeconfig
attributes:
  check_mode:
    support: full
    description: Server-side dry runs of every object and of the removals; nothing is written or waited for.
  diff_mode:
    support: full
    description: Returns the before and after of every changed object.
options:
  state:
    description:
      - V(present) deploys the app; V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  spec:
    description:
      - The app spec, as loaded from C(inventories/<env>/apps/<tenant>/<app>.yml) or the tenant's repository.
      - One of O(spec) and O(specs) is required.
    type: dict
  specs:
    description:
      - Several app specs of one namespace, deployed as one batch with the requests shared (one discovery,
        one LIST per kind and one quota read for all, one dry run of every object); a problem in any spec
        or a refusal of any object writes nothing. Apps that change are then rolled out one after another.
      - Only with O(state=present), and not with O(scale), O(config_set), O(config_unset), O(release) or O(rollback).
    type: list
    elements: dict
  catalog:
    description:
      - The platform's app catalog, with C(sizes) (name to cpu, memory, limits_cpu, limits_memory) and C(registries)
        (image reference prefixes the platform accepts).
    type: dict
  tenant_domains:
    description:
      - The tenant's domains from its tenant spec; the app's domains must be under them.
      - When not given, only the API server's admission policy checks the hostnames.
    type: list
    elements: str
  release:
    description:
      - Roll back to this release number, making a new release with its image and config.
    type: int
  rollback:
    description:
      - Roll back to the newest good release before the current one (when O(release) is not set).
    type: bool
    default: false
  scale:
    description:
      - Per process, new replicas (a number) or autoscale bounds (a dict with min, max, cpu_percent), overriding the spec.
    type: dict
    default: {}
  config_set:
    description:
      - Config vars to set, overriding the spec.
    type: dict
    default: {}
  config_unset:
    description:
      - Config vars to remove.
    type: list
    elements: str
    default: []
  rollout_timeout:
    description:
      - Seconds the release Job and the rollout may take before the previous release is put back.
    type: int
    default: 300
  ingress_class:
    description:
      - The IngressClass of the app's Ingress (the cluster's default when not set).
    type: str
  ingress_target:
    description:
      - The address external-dns publishes for the app's hosts (annotation C(external-dns.alpha.kubernetes.io/target)).
      - Only where no ingress controller writes its load balancer's address into the Ingress status (the lab).
    type: str
  cluster_issuer:
    description:
      - The cert-manager ClusterIssuer that signs the app's certificate.
    type: str
    default: platykus-default
  confirm:
    description:
      - With O(state=absent), must equal the app's name.
    type: str
"""

EXAMPLES = r"""
- name: Deploy an app as its tenant
  platykus.platform.app:
    spec: "{{ query('platykus.platform.tenant_specs', 'inventories/lab/apps/acme/shop.yml', kind='app') | first }}"
    catalog: "{{ platykus_app_catalog }}"
    tenant_domains: [acme.apps.platykus-lab.test]
    kubeconfig: /tmp/acme-ci.kubeconfig

- name: Scale the web process to 3
  platykus.platform.app:
    spec: "{{ app_spec }}"
    catalog: "{{ platykus_app_catalog }}"
    scale: {web: 3}

- name: Roll back to release 2
  platykus.platform.app:
    spec: "{{ app_spec }}"
    catalog: "{{ platykus_app_catalog }}"
    release: 2
"""

RETURN = r"""
apps:
  description: With O(specs), one result per app in spec order, each with the keys below.
  returned: when specs is given
  type: list
  elements: dict
release:
  description: The release number the app runs (state=present).
  returned: state=present
  type: int
  sample: 3
releases:
  description: The releases kept, newest first (version, image, checksum, by, at, description, status, current).
  returned: state=present
  type: list
  elements: dict
urls:
  description: The app's public URLs, one per domain.
  returned: state=present
  type: list
  elements: str
  sample: [https://shop.acme.apps.platykus-lab.test/]
internal_url:
  description: The web process's Service URL inside the cluster (null without a web process).
  returned: state=present
  type: str
processes:
  description: Per process its name, kind (web, worker, release, cron), size, replicas, autoscale and schedule.
  returned: state=present
  type: list
  elements: dict
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
pruned:
  description: Objects of the app no longer in its spec, and old release Jobs, deleted.
  returned: state=present
  type: list
  elements: str
deleted:
  description: With O(state=absent), the objects removed.
  returned: state=absent
  type: list
  elements: str
"""

import traceback

from ansible_collections.platykus.platform.plugins.module_utils._apps.batch import deploy_apps
from ansible_collections.platykus.platform.plugins.module_utils._apps.ops import (
    APP_ARGUMENT_SPEC,
    app_params,
    deploy_app,
    destroy_app,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.kube import client_factory
from ansible_collections.platykus.platform.plugins.module_utils._core.module import platykus_module


def main() -> None:
    module = platykus_module(
        APP_ARGUMENT_SPEC,
        required_if=[("state", "present", ("catalog",)), ("state", "absent", ("spec",))],
        required_one_of=[("spec", "specs")],
        mutually_exclusive=[("spec", "specs"), ("specs", "scale"), ("specs", "config_set"), ("specs", "config_unset"),
                            ("specs", "release"), ("specs", "rollback"), ("specs", "confirm")],
    )  # fmt: skip
    params = module.params
    connect = client_factory(params)
    try:
        if params["specs"] is not None:
            settings = {k: v for k, v in app_params(params).items() if k != "spec"}
            apps = deploy_apps(connect, params["specs"], check_mode=module.check_mode, diff=module._diff, **settings)
            result = {"changed": any(app["changed"] for app in apps), "apps": apps}
        elif params["state"] == "absent":
            result = destroy_app(connect, check_mode=module.check_mode, confirm=params["confirm"], **app_params(params))
        else:
            result = deploy_app(connect, check_mode=module.check_mode, diff=module._diff, **app_params(params))
    except PlatykusError as err:
        module.fail_json(msg=str(err), exception=traceback.format_exc())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
