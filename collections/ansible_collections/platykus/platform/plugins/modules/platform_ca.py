#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: platform_ca
short_description: Make the platform CA a cert-manager CA ClusterIssuer signs with
version_added: 0.3.0
description:
  - Keeps a root CA in the C(kubernetes.io/tls) Secret O(namespace)/O(secret_name) (C(tls.crt), C(tls.key), C(ca.crt))
    as an ECDSA P-256 key and a self-signed certificate with C(basicConstraints CA:TRUE, pathlen:0) and, when
    O(domains) is not empty, critical name constraints permitting only DNS names, URI hosts and e-mail domains
    in those zones and excluding every IP address.
  - cert-manager cannot set a path length on a certificate it makes, so the platform makes this root itself.
    The key is generated in memory and written only into the Secret.
  - The stored CA is kept while it has path length 0, the name constraints O(domains) ask for, a key that
    matches, and more than O(renew_before_days) left. Otherwise a new one replaces it; a cert-manager
    Certificate that wrote the Secret before is deleted first, and every Certificate of O(issuers) is renewed
    (cert-manager does not re-issue leaves when their issuer's CA changes).
author:
  - Platykus engineers (@platykus)
extends_documentation_fragment:
  - platykus.platform.kubeconfig
attributes:
  check_mode:
    support: full
    description: Reports whether the CA would be made or replaced, and why; writes nothing.
  diff_mode:
    support: none
    description: The Secret holds a private key; no diff is shown.
options:
  namespace:
    description:
      - The namespace of the Secret; for a ClusterIssuer, cert-manager's cluster resource namespace.
    type: str
    required: true
  secret_name:
    description:
      - The Secret's name, the CA issuer's C(spec.ca.secretName).
    type: str
    required: true
  common_name:
    description:
      - The CA's subject common name.
    type: str
    required: true
  domains:
    description:
      - The DNS zones the CA may sign for (tenant domains lie under them). Empty leaves the CA without name
        constraints (path length 0 only).
    type: list
    elements: str
    default: []
  issuers:
    description:
      - The ClusterIssuers that sign with this Secret; their Certificates are renewed when the CA is replaced.
    type: list
    elements: str
    default: []
  validity_days:
    description:
      - Days a new CA is valid.
    type: int
    default: 3650
  renew_before_days:
    description:
      - A stored CA with fewer days left is replaced.
    type: int
    default: 365
"""

EXAMPLES = r"""
- name: The lab's platform CA, for the apps zone
  platykus.platform.platform_ca:
    namespace: platykus-system
    secret_name: platykus-ca
    common_name: platykus-lab platform CA
    domains: [apps.platykus-lab.test]
    issuers: [platykus-default]
"""

RETURN = r"""
replaced:
  description: Whether a stored CA was replaced by a new one.
  returned: success
  type: bool
reasons:
  description: Why the CA was (or, in check mode, would be) made; empty when the stored one was kept.
  returned: success
  type: list
  elements: str
  sample: ["it is not a CA of path length 0 (found CA:True pathlen:None)"]
renewed:
  description: The Certificates (namespace/name) asked to re-issue with the new CA.
  returned: success
  type: list
  elements: str
subject:
  description: The CA's subject.
  returned: when the CA exists (not in check mode before it is made)
  type: str
sha256_fingerprint:
  description: The CA certificate's SHA-256 fingerprint.
  returned: when the CA exists
  type: str
not_after:
  description: When the CA expires (ISO 8601, UTC).
  returned: when the CA exists
  type: str
certificate:
  description: The CA certificate (PEM), for clients to trust.
  returned: when the CA exists
  type: str
"""

import traceback

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.kube import KUBE_ARGUMENT_SPEC, client_factory
from ansible_collections.platykus.platform.plugins.module_utils._core.module import platykus_module
from ansible_collections.platykus.platform.plugins.module_utils._platform.ca import (
    CRYPTOGRAPHY_IMPORT_ERROR,
    HAS_CRYPTOGRAPHY,
    ensure_platform_ca,
    render_spec,
)


def main() -> None:
    module = platykus_module(
        dict(
            namespace=dict(type="str", required=True),
            secret_name=dict(type="str", required=True),
            common_name=dict(type="str", required=True),
            domains=dict(type="list", elements="str", default=[]),
            issuers=dict(type="list", elements="str", default=[]),
            validity_days=dict(type="int", default=3650),
            renew_before_days=dict(type="int", default=365),
            **KUBE_ARGUMENT_SPEC,
        )
    )
    if not HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=str(CRYPTOGRAPHY_IMPORT_ERROR))
    params = module.params
    try:
        spec = render_spec(
            params["namespace"],
            params["secret_name"],
            params["common_name"],
            params["domains"],
            params["issuers"],
            params["validity_days"],
            params["renew_before_days"],
        )
        result = ensure_platform_ca(client_factory(params), spec, check_mode=module.check_mode)
    except PlatykusError as err:
        module.fail_json(msg=str(err), exception=traceback.format_exc())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
