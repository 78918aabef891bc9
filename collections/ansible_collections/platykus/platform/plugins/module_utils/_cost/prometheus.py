# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Measured usage from Prometheus: the endpoint and its credentials, the two queries, the GET.

Credentials come from ``prometheus_username``/``prometheus_password`` or ``prometheus_bearer_token``
(no_log options). A user and password written into ``prometheus_url`` still work, but are taken
out of the URL here, so no request, message or result carries them; every URL shown is redacted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from ansible.module_utils.urls import ConnectionError as UrlConnectionError
from ansible.module_utils.urls import open_url

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.redact import (
    redact_text,
    redact_url,
    split_userinfo,
)

# Averages over the window, evaluated at its end; %(range)s is the window length in seconds.
PROMQL_CPU = (
    'sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{container!="",container!="POD"}[%(range)ds]))'
)
PROMQL_MEMORY = 'sum by (namespace, pod) (avg_over_time(container_memory_working_set_bytes{container!="",container!="POD"}[%(range)ds]))'
TIMEOUT_SECONDS = 60

Fetch = Callable[[str], bytes]


@dataclass(frozen=True)
class PrometheusEndpoint:
    """Where to ask, and as whom. ``url`` never holds credentials."""

    url: str
    username: str | None = None
    password: str | None = None
    bearer_token: str | None = None


def prometheus_endpoint(params: Mapping[str, Any], option: str = "usage_source") -> PrometheusEndpoint:
    """The endpoint from the module options; refuses credentials given twice (in the URL and as options)."""
    raw = params.get("prometheus_url")
    if not raw:
        raise PlatykusError(
            "prometheus_url: required when %s is prometheus; set it like http://prometheus:9090" % option,
            field="prometheus_url",
        )
    url, user, password = split_userinfo(raw)
    username, token = params.get("prometheus_username"), params.get("prometheus_bearer_token")
    if user is not None and (username or token):
        raise PlatykusError(
            "prometheus_url: %s carries credentials and prometheus_username or prometheus_bearer_token is set too; "
            "keep them in the options only" % redact_url(raw),
            field="prometheus_url",
        )
    if user is not None:
        return PrometheusEndpoint(url, username=user, password=password or "")
    if username:
        return PrometheusEndpoint(url, username=username, password=params.get("prometheus_password") or "")
    return PrometheusEndpoint(url, bearer_token=token or None)


def http_fetch(endpoint: PrometheusEndpoint, timeout: float = TIMEOUT_SECONDS) -> Fetch:
    """``fetch(url) -> body``: a GET with the endpoint's credentials, failing with the URL redacted."""
    headers = {"Accept": "application/json"}
    if endpoint.bearer_token:
        headers["Authorization"] = "Bearer %s" % endpoint.bearer_token

    def fetch(url: str) -> bytes:
        try:
            response = open_url(
                url,
                method="GET",
                timeout=timeout,
                headers=headers,
                url_username=endpoint.username,
                url_password=endpoint.password,
                force_basic_auth=endpoint.username is not None,
            )
            return response.read()
        except (OSError, ValueError, UrlConnectionError) as err:
            # urllib's own text may quote the URL; neither may show credentials.
            raise PlatykusError(
                "prometheus_url: GET %s failed: %s" % (redact_url(url), redact_text(err)), field="prometheus_url"
            ) from err

    return fetch


def prometheus_query(url: str, query: str, time: str, fetch: Fetch) -> Any:
    """One instant query against the Prometheus HTTP API at ``url`` (no credentials in it)."""
    full = "%s/api/v1/query?%s" % (url.rstrip("/"), urlencode({"query": query, "time": time}))
    try:
        return json.loads(fetch(full))
    except ValueError as err:
        raise PlatykusError(
            "prometheus_url: %s did not answer with JSON: %s" % (redact_url(url), err), field="prometheus_url"
        ) from err


def window_queries(seconds: int) -> tuple[str, str]:
    """The cpu and memory queries averaging over the last ``seconds``."""
    return PROMQL_CPU % {"range": seconds}, PROMQL_MEMORY % {"range": seconds}


def prometheus_range(url: str, query: str, start: int, end: int, step: int, fetch: Fetch) -> Any:
    """One range query (``/api/v1/query_range``) from ``start`` to ``end`` (Unix seconds) every ``step`` seconds."""
    params = {"query": query, "start": "%d" % start, "end": "%d" % end, "step": "%ds" % step}
    full = "%s/api/v1/query_range?%s" % (url.rstrip("/"), urlencode(params))
    try:
        return json.loads(fetch(full))
    except ValueError as err:
        raise PlatykusError(
            "prometheus_url: %s did not answer with JSON: %s" % (redact_url(url), err), field="prometheus_url"
        ) from err
