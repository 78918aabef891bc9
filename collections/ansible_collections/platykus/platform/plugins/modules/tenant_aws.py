#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: tenant_aws
short_description: Give each tenant its own slice of AWS and a SecretStore in its namespaces
version_added: 0.3.0
description:
  - For each tenant, an IAM identity C(<cluster>-tenant-<tenant>) whose only policy reads secrets under
    C(platykus/<tenant>/) and uses the tenant's bucket; the bucket C(<cluster>-<tenant>) (encrypted, public access
    blocked, tagged with tenant and cost centre); and the ClusterSecretStore C(platykus-secrets-<tenant>) that
    authenticates as that identity and that external-secrets lets only the tenant's namespaces use
    (C(spec.conditions)), never a cluster-wide identity.
  - Lab and generic clusters, an IAM user with an access key. The key is in the Secret C(platykus-aws-<tenant>) of
    O(key_namespace), a platform namespace no tenant role can read, and is replaced when it is older than
    O(key_max_age_hours). The old key is deleted once the Secret holds the new one. Rerun onboarding on a schedule
    (awx/platykus.yml, scripts/systemd/) so keys rotate. The namespaced SecretStore C(platykus-secrets) and its key
    Secret C(platykus-aws-credentials) of earlier versions are removed from the tenant's namespaces, and
    ExternalSecrets naming that store are moved to the tenant's ClusterSecretStore.
  - EKS (O(irsa)), no key at all. Each namespace gets the ServiceAccount C(platykus-aws) annotated with the tenant's
    role, and a SecretStore C(platykus-secrets) using it. The ClusterSecretStore uses the first namespace's one.
  - With O(state=absent), the one O(tenant)'s ClusterSecretStore, key Secret, IAM user (keys deactivated then
    deleted, inline and attached policies, the user), secrets under its prefix and bucket are removed (lab and
    generic; on EKS the aws_tenants role removes the tenant's AWS slice). It is refused before anything is
    deleted while the bucket holds objects, naming them, unless O(force).
  - Every tenant domain and every declared external secret is checked before anything is written; one error lists
    every problem (a domain outside C(<tenant>.<zone>), a secret key outside the tenant's prefix).
  - AWS credentials and the endpoint come from the environment as boto3 reads them (C(AWS_ENDPOINT_URL) on the lab).
author:
  - Platykus engineers (@platykus)
extends_documentation_fragment:
  - platykus.platform.kubeconfig
attributes:
  check_mode:
    support: full
    description: Reads AWS and dry-runs the apply; makes, rotates, moves or removes nothing and lists what would change.
  diff_mode:
    support: full
    description: Diffs of the SecretStores and ExternalSecrets (never of the credentials Secrets).
options:
  state:
    description:
      - V(present) onboards the tenants; V(absent) removes the AWS identity and resources of O(tenant).
    type: str
    choices: [present, absent]
    default: present
  force:
    description:
      - With O(state=absent), delete the tenant's bucket with its objects; without it a bucket with objects is refused.
    type: bool
    default: false
  tenants:
    description:
      - Tenant specs as the C(tenant) module takes them (docs/tenants.md); C(domains) and C(cost_center) are used.
      - Required with O(state=present).
    type: list
    elements: raw
  plans:
    description:
      - The plans catalog the specs are validated against. Required with O(state=present).
    type: raw
  key_namespace:
    description:
      - The platform namespace holding the tenants' access key Secrets (lab, generic).
    type: str
    default: platykus-system
  key_max_age_hours:
    description:
      - An access key older than this is replaced on the next run (lab, generic); V(0) replaces keys only when lost.
    type: float
    default: 24
  platform_namespaces:
    description:
      - Namespaces no tenant may claim.
    type: list
    elements: str
    default: []
  tenant:
    description:
      - Onboard only this tenant (all specs are still validated); with O(state=absent), the tenant to remove.
    type: str
  cluster_name:
    description:
      - The cluster's name; prefixes identities and buckets.
    type: str
    required: true
  zone:
    description:
      - The platform's DNS zone; a tenant's hostnames are under C(<tenant>.<zone>).
    type: str
    required: true
  region:
    description:
      - The AWS region of the tenants' secrets and buckets.
    type: str
    default: us-east-1
  endpoint_url:
    description:
      - Another AWS endpoint (the lab's); default from C(AWS_ENDPOINT_URL) or AWS itself.
    type: str
  account_id:
    description:
      - The AWS account; default from STS (the caller's).
    type: str
  irsa:
    description:
      - EKS with IRSA. The tenants' roles and buckets come from C(playbooks/aws-provision.yml) (role C(aws_tenants));
        here each namespace gets the ServiceAccount C(platykus-aws) annotated with the tenant's role and a SecretStore
        using it. No IAM user, access key or bucket is made.
    type: bool
    default: false
  external_secrets:
    description:
      - ExternalSecrets the platform declares in tenant namespaces, each through the tenant's own store.
      - Each item has C(namespace), C(name), C(key) (under C(platykus/<tenant>/)), and optionally C(property),
        C(secret_key) (default C(value)) and C(refresh_interval) (default C(1h)).
    type: list
    elements: dict
    default: []
  validate_only:
    description:
      - Only check the inputs (no connection); onboarding runs this before it writes anything.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Each tenant's AWS slice and SecretStore
  platykus.platform.tenant_aws:
    tenants: "{{ platykus_tenants }}"
    plans: "{{ platykus_tenant_plans }}"
    cluster_name: "{{ platykus_cluster_name }}"
    zone: "{{ platykus_route53_zone }}"
    region: "{{ platykus_aws_region }}"
    external_secrets:
      - {namespace: acme-prod, name: db, key: platykus/acme/db, property: password, secret_key: password}

- name: Remove a tenant's AWS identity, secrets and bucket (lab, generic)
  platykus.platform.tenant_aws:
    state: absent
    tenant: acme
    cluster_name: "{{ platykus_cluster_name }}"
    zone: "{{ platykus_route53_zone }}"
    force: false
"""

RETURN = r"""
tenants:
  description: Each tenant's identity, bucket, secret prefix, domain and namespaces.
  returned: success
  type: list
  elements: dict
aws:
  description: The identities and buckets created or changed (or that would be, in check mode).
  returned: unless validate_only
  type: list
  elements: str
keys_rotated:
  description: Tenants that got a new access key (none was in use, or the one in use was past its max age).
  returned: with state=present, unless validate_only
  type: list
  elements: str
keys_retired:
  description: Access keys deactivated and deleted after the new one was stored (C(iam-key/<user>/<key id>)).
  returned: with state=present, unless validate_only
  type: list
  elements: str
migrated:
  description: ExternalSecrets moved from the old namespaced store to the tenant's ClusterSecretStore.
  returned: with state=present, unless validate_only
  type: list
  elements: str
removed:
  description: >-
    With state=present, the old namespaced stores and key Secrets removed. With state=absent, everything of the
    tenant removed (or that would be, in check mode).
  returned: unless validate_only
  type: list
  elements: str
created:
  description: Objects created.
  returned: unless validate_only
  type: list
  elements: str
updated:
  description: Objects updated.
  returned: unless validate_only
  type: list
  elements: str
unchanged:
  description: Objects already as wanted.
  returned: unless validate_only
  type: list
  elements: str
"""

import traceback

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.kube import KUBE_ARGUMENT_SPEC, client_factory
from ansible_collections.platykus.platform.plugins.module_utils._core.module import platykus_module
from ansible_collections.platykus.platform.plugins.module_utils._tenants.aws_onboard import (
    ARGUMENT_SPEC,
    boto3_clients,
    run,
)


def main() -> None:
    module = platykus_module(dict(ARGUMENT_SPEC, **KUBE_ARGUMENT_SPEC))
    params = module.params
    try:
        result = run(
            params,
            client_factory(params),
            boto3_clients(params["region"], params["endpoint_url"]),
            module.check_mode,
            module._diff,
        )
    except PlatykusError as err:
        module.fail_json(msg=str(err), exception=traceback.format_exc())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
