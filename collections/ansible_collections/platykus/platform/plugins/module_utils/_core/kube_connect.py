# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the Kubernetes client connects: the ``kubernetes`` library (optional at import time), the
connection options every module takes, and the kubeconfig loading."""

from __future__ import annotations

import os
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError

try:
    import urllib3
    from kubernetes import client as _k8s_client
    from kubernetes import config as _k8s_config
    from kubernetes.client.rest import ApiException

    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
    TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (urllib3.exceptions.HTTPError, OSError)
    # What the client library itself may raise (KubeClient turns both into KubeApiError).
    CLIENT_ERRORS: tuple[type[BaseException], ...] = (ApiException, urllib3.exceptions.HTTPError)
except ImportError as _import_error:  # pragma: no cover - reported through missing_required_lib
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = _import_error
    ApiException = Exception
    TRANSPORT_ERRORS = (OSError,)
    CLIENT_ERRORS = ()

# The connection options every module takes (documented by the platykus.platform.kubeconfig fragment).
KUBE_ARGUMENT_SPEC = dict(
    kubeconfig=dict(type="path"),
    context=dict(type="str"),
    request_timeout=dict(type="float", default=30.0),
    request_retries=dict(type="int", default=3),
)


def load_api_client(kubeconfig: str | None = None, context: str | None = None) -> Any:
    """The ``kubernetes`` ApiClient of ``kubeconfig`` (else K8S_AUTH_KUBECONFIG, KUBECONFIG, ~/.kube/config)."""
    if not HAS_KUBERNETES:
        raise PlatykusError("the Python 'kubernetes' library is required: %s" % KUBERNETES_IMPORT_ERROR)
    path = (
        kubeconfig
        or os.environ.get("K8S_AUTH_KUBECONFIG")
        or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
        or os.path.expanduser("~/.kube/config")
    )
    configuration = _k8s_client.Configuration()
    try:
        _k8s_config.load_kube_config(config_file=path, context=context, client_configuration=configuration)
    except Exception as err:  # the loader raises several unrelated types for one cause: a bad kubeconfig
        raise PlatykusError(
            "kubeconfig: cannot load %s (context %s): %s; set kubeconfig to a readable kubeconfig file"
            % (path, context or "current", err),
            field="kubeconfig",
        ) from err
    # Batches run requests in parallel threads; give each one a connection. Retries are ours
    # (bounded, with backoff, and reported), not urllib3's silent ones.
    configuration.connection_pool_maxsize = 16
    configuration.retries = False
    return _k8s_client.ApiClient(configuration)
