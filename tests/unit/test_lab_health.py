"""Lab health decisions that need no running lab: endpoints, staleness, failure messages."""

from __future__ import annotations

import pytest

from platykus_lab import health

PORTS = {
    "etcd_client": 20001,
    "etcd_peer": 20002,
    "apiserver": 20003,
    "controller_manager": 20004,
    "scheduler": 20005,
    "kwok": 20006,
}


@pytest.mark.parametrize(
    ("component", "url", "upstream"),
    [
        ("etcd", "https://127.0.0.1:20001", None),
        ("kube-apiserver", "https://127.0.0.1:20003", "https://127.0.0.1:20001"),
        ("kube-controller-manager", "https://127.0.0.1:20004", "https://127.0.0.1:20003"),
        ("kube-scheduler", "https://127.0.0.1:20005", "https://127.0.0.1:20003"),
        ("kwok", "http://127.0.0.1:20006", "https://127.0.0.1:20003"),
    ],
)
def test_endpoints_from_ports(component, url, upstream):
    assert health.endpoint(component, PORTS) == url
    assert health.upstream_endpoint(component, PORTS) == upstream


CURRENT = "https://127.0.0.1:20003"


@pytest.mark.parametrize(
    ("record", "pid", "expected"),
    [
        ({"pid": 7, "upstream": CURRENT}, 7, None),
        # The API server moved while this controller-manager kept dialling the old port.
        (
            {"pid": 7, "upstream": "https://127.0.0.1:29999"},
            7,
            "dials https://127.0.0.1:29999, but the current endpoint is " + CURRENT,
        ),
        # A record of another process (pid reused, or started by hand) says nothing about this one.
        ({"pid": 8, "upstream": CURRENT}, 7, "started without a record of the endpoint it dials"),
        (None, 7, "started without a record of the endpoint it dials"),
    ],
)
def test_endpoint_problem(record, pid, expected):
    assert health.endpoint_problem(record, pid, CURRENT) == expected


def test_failure_names_the_failing_checks():
    body = (
        b"[+]ping ok\n[-]etcd failed: reason withheld\n[+]log ok\n[-]poststarthook/rbac failed\nreadyz check failed\n"
    )
    message = health.failure("https://127.0.0.1:1/readyz", 500, body)
    assert (
        message
        == "https://127.0.0.1:1/readyz answered 500: [-]etcd failed: reason withheld; [-]poststarthook/rbac failed"
    )


def test_failure_when_nothing_answers():
    assert health.failure("http://127.0.0.1:1/healthz", 0, b"<urlopen error [Errno 111] Connection refused>") == (
        "http://127.0.0.1:1/healthz answered nothing: <urlopen error [Errno 111] Connection refused>"
    )


def test_probe_without_a_serving_certificate_is_unhealthy(tmp_path):
    problem = health.probe(tmp_path, "kube-scheduler", PORTS, timeout=0.5)
    assert problem is not None and problem.startswith("no serving certificate")


def test_probe_of_a_closed_port_is_unhealthy(tmp_path):
    # kwok serves plain HTTP: no certificate needed, so the probe reaches the (closed) port.
    problem = health.probe(tmp_path, "kwok", {**PORTS, "kwok": 1}, timeout=0.5)
    assert problem is not None and problem.startswith("http://127.0.0.1:1/healthz answered nothing")
