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
    blocked, tagged with tenant and cost centre); in each of the tenant's namespaces the SecretStore
    C(platykus-secrets) authenticating as that identity (its access key in the Secret C(platykus-aws-credentials)),
    never a cluster-wide one.
  - Every tenant domain and every declared external secret is checked before anything is written; one error lists
    every problem (a domain outside C(<tenant>.<zone>), a secret key outside the tenant's prefix).
  - A new access key is made only when a namespace lacks the credentials Secret or IAM no longer knows its key.
  - AWS credentials and the endpoint come from the environment as boto3 reads them (C(AWS_ENDPOINT_URL) on the lab).
author:
  - Platykus engineers (@platykus)
extends_documentation_fragment:
  - platykus.platform.kubeconfig
attributes:
  check_mode:
    support: full
    description: Reads AWS and dry-runs the apply; makes no identity, bucket, key or object.
  diff_mode:
    support: full
    description: Diffs of the SecretStores and ExternalSecrets (never of the credentials Secrets).
options:
  tenants:
    description:
      - Tenant specs as the C(tenant) module takes them (docs/tenants.md); C(domains) and C(cost_center) are used.
    type: list
    elements: raw
    required: true
  plans:
    description:
      - The plans catalog the specs are validated against.
    type: raw
    required: true
  platform_namespaces:
    description:
      - Namespaces no tenant may claim.
    type: list
    elements: str
    default: []
  tenant:
    description:
      - Onboard only this tenant (all specs are still validated).
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
  description: Tenants that got a new access key.
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

from ansible_collections.platykus.platform.plugins.module_utils._errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._kube import KUBE_ARGUMENT_SPEC, client_factory
from ansible_collections.platykus.platform.plugins.module_utils._module import platykus_module
from ansible_collections.platykus.platform.plugins.module_utils._tenant_aws_onboard import (
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
