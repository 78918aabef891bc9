# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A tenant's deploy identity: a short-lived token of its CI ServiceAccount, as a kubeconfig.

The platform (which may create ServiceAccount tokens; tenants may not) asks the API server for
a TokenRequest of ``<tenant>-<environment>/ci-deployer`` and writes a kubeconfig with it, so
the app playbooks run with exactly the tenant developer's rights, never cluster-admin. The
token expires by itself; nothing long-lived is stored in the cluster.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.kube import KubeApiError, KubeClient
from ansible_collections.platykus.platform.plugins.module_utils._core.names import CI_SERVICE_ACCOUNT

MIN_SECONDS = 600  # the API server refuses shorter TokenRequests


def request_token(client: KubeClient, namespace: str, seconds: int, account: str = CI_SERVICE_ACCOUNT) -> str:
    if seconds < MIN_SECONDS:
        raise PlatykusError(
            "duration: %d seconds is below the API server's minimum of %d" % (seconds, MIN_SECONDS), field="duration"
        )
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": seconds}}
    target = "ServiceAccount %s/%s token" % (namespace, account)
    answer = client.checked(
        "create", target, "POST", "/api/v1/namespaces/%s/serviceaccounts/%s/token" % (namespace, account), body=body
    )
    token = ((answer or {}).get("status") or {}).get("token")
    if not token:
        raise KubeApiError("create", target, None, "the API server returned no token")
    return token


def _ca_data(configuration: Any) -> str | None:
    path = getattr(configuration, "ssl_ca_cert", None)
    if not path:
        return None
    with open(path, "rb") as handle:
        return base64.b64encode(handle.read()).decode()


def kubeconfig(server: str, ca_data: str | None, token: str, name: str) -> dict[str, Any]:
    cluster: dict[str, Any] = {"server": server}
    if ca_data:
        cluster["certificate-authority-data"] = ca_data
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name, "namespace": name.split("@")[-1]}}],
        "current-context": name,
    }


def write_tenant_kubeconfig(
    connect: Callable[[], KubeClient], namespace: str, dest: str, seconds: int, dump: Callable[[Any], str]
) -> dict[str, Any]:
    """Mint a token for the namespace's CI ServiceAccount and write a kubeconfig (mode 0600) with it."""
    client = connect()
    token = request_token(client, namespace, seconds)
    configuration = client.api_client.configuration
    doc = kubeconfig(configuration.host, _ca_data(configuration), token, "%s@%s" % (CI_SERVICE_ACCOUNT, namespace))
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(dump(doc))
    return {
        "changed": True,
        "path": dest,
        "user": "system:serviceaccount:%s:%s" % (namespace, CI_SERVICE_ACCOUNT),
        "expires_in": seconds,
    }
