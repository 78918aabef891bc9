# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus endpoint and credentials: nothing the collection prints carries them."""

from __future__ import annotations

import io
import urllib.error

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._cost import prometheus
from ansible_collections.platykus.platform.plugins.module_utils._cost.prometheus import (
    PrometheusEndpoint,
    http_fetch,
    prometheus_endpoint,
)

USER, PASSWORD = "leaky-reporter", "s3cret-Pa55"


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"prometheus_url": "http://prom:9090"}, PrometheusEndpoint("http://prom:9090")),
        (
            {"prometheus_url": "http://%s:%s@prom:9090" % (USER, PASSWORD)},
            PrometheusEndpoint("http://prom:9090", USER, PASSWORD),
        ),
        (
            {"prometheus_url": "http://prom:9090", "prometheus_username": USER, "prometheus_password": PASSWORD},
            PrometheusEndpoint("http://prom:9090", USER, PASSWORD),
        ),
        (
            {"prometheus_url": "http://prom:9090", "prometheus_bearer_token": "tok"},
            PrometheusEndpoint("http://prom:9090", bearer_token="tok"),
        ),
    ],
)
def test_endpoint(params, expected):
    assert prometheus_endpoint(params) == expected


def test_credentials_twice_are_refused_without_showing_them():
    with pytest.raises(PlatykusError) as err:
        prometheus_endpoint(
            {"prometheus_url": "http://%s:%s@prom" % (USER, PASSWORD), "prometheus_bearer_token": "tok"}
        )
    assert err.value.field == "prometheus_url"
    assert PASSWORD not in str(err.value) and USER not in str(err.value) and "http://***@prom" in str(err.value)


def test_unreachable_prometheus_error_shows_no_credentials(monkeypatch):
    seen = {}

    def refused(url, **kwargs):
        seen.update(kwargs, url=url)
        # urllib may quote the URL it failed on; make sure such text is redacted too
        raise urllib.error.URLError("[Errno 111] Connection refused to http://%s:%s@prom:9090" % (USER, PASSWORD))

    monkeypatch.setattr(prometheus, "open_url", refused)
    fetch = http_fetch(prometheus_endpoint({"prometheus_url": "http://%s:%s@prom:9090" % (USER, PASSWORD)}))
    with pytest.raises(PlatykusError) as err:
        fetch("http://prom:9090/api/v1/query?query=up")
    message = str(err.value)
    assert "GET http://prom:9090/api/v1/query?query=up failed" in message and "Connection refused" in message
    assert PASSWORD not in message and USER not in message
    # the credentials went to the request as basic auth, not in the URL
    assert (seen["url_username"], seen["url_password"], seen["force_basic_auth"]) == (USER, PASSWORD, True)


def test_bearer_token_is_a_header(monkeypatch):
    seen = {}

    def ok(url, **kwargs):
        seen.update(kwargs)
        return io.BytesIO(b"{}")

    monkeypatch.setattr(prometheus, "open_url", ok)
    assert http_fetch(PrometheusEndpoint("http://prom", bearer_token="tok"))("http://prom/api") == b"{}"
    assert seen["headers"]["Authorization"] == "Bearer tok" and seen["url_username"] is None
