"""Is a lab component healthy: who it dials, where it answers, and the HTTP call that asks it."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path

# Who dials whom. A process keeps the endpoint it was started with: when its upstream moves to
# another port, the process must be restarted, and until then it is unhealthy however it answers.
UPSTREAM = {
    "kube-apiserver": "etcd",
    "kube-controller-manager": "kube-apiserver",
    "kube-scheduler": "kube-apiserver",
    "kwok": "kube-apiserver",
}
# The port (key of the lab's ports) and URL scheme each component serves on 127.0.0.1.
SERVES = {
    "etcd": ("etcd_client", "https"),
    "kube-apiserver": ("apiserver", "https"),
    "kube-controller-manager": ("controller_manager", "https"),
    "kube-scheduler": ("scheduler", "https"),
    "kwok": ("kwok", "http"),
}
# Where controller-manager and scheduler write the self-signed serving certificate they make
# on first start (<dir>/<component>.crt, the leaf followed by its CA).
CERT_DIRS = {"kube-controller-manager": "controller-manager-certs", "kube-scheduler": "scheduler-certs"}


def endpoint(component: str, ports: dict[str, int]) -> str:
    """The URL a client reaches the component at, from the lab's recorded ports."""
    port_name, scheme = SERVES[component]
    return f"{scheme}://127.0.0.1:{ports[port_name]}"


def upstream_endpoint(component: str, ports: dict[str, int]) -> str | None:
    """The URL the component dials (etcd dials no one)."""
    upstream = UPSTREAM.get(component)
    return endpoint(upstream, ports) if upstream else None


def endpoint_problem(record: dict | None, pid: int, current: str) -> str | None:
    """Why a running process dials the wrong upstream; None when it was started against ``current``.

    ``record`` is what ``up`` wrote when it started the process. A record of another pid, or none,
    means the process was started some other way (an older platykus-lab, by hand): what it dials
    is unknown, so it counts as stale and ``up`` restarts it once.
    """
    if not record or record.get("pid") != pid:
        return "started without a record of the endpoint it dials"
    if record.get("upstream") != current:
        return f"dials {record.get('upstream')}, but the current endpoint is {current}"
    return None


def serving_context(home: Path, component: str) -> ssl.SSLContext | None:
    """TLS trust for a component's health port: exactly the certificate it wrote into the lab.

    Trusting that one file (not skipping verification) also proves the port is answered by this
    lab's process and not by whatever took the port after it died.
    """
    if component not in CERT_DIRS:
        return None
    return ssl.create_default_context(cafile=str(home / CERT_DIRS[component] / f"{component}.crt"))


def http_request(
    url: str,
    context: ssl.SSLContext | None = None,
    method: str = "GET",
    body: dict | None = None,
    content_type: str = "application/json",
    timeout: float = 10.0,
) -> tuple[int, bytes]:
    """(status, body) of one request; status 0 and the error's text when nothing answered."""
    request = urllib.request.Request(
        url,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": content_type, "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, context=context, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()
    except (urllib.error.URLError, OSError) as err:
        return 0, str(err).encode()


def probe(home: Path, component: str, ports: dict[str, int], timeout: float = 5.0) -> str | None:
    """Ask a controller-manager, scheduler or kwok for /healthz; None when it answers 200.

    Both Kubernetes components allow /healthz without authorization (the default
    --authorization-always-allow-paths) and accept anonymous requests, so no client cert is sent.
    """
    url = f"{endpoint(component, ports)}/healthz"
    try:
        context = serving_context(home, component)
    except (OSError, ssl.SSLError) as err:
        return f"no serving certificate to check {url} against yet ({err})"
    status, body = http_request(url, context, timeout=timeout)
    return None if status == 200 else failure(url, status, body)


def failure(url: str, status: int, body: bytes) -> str:
    """One line on a failed health check: the checks it names as failing ([-]...), else its text."""
    text = body.decode(errors="replace")
    failing = [line.strip() for line in text.splitlines() if line.startswith("[-]")]
    detail = "; ".join(failing) if failing else " ".join(text.split())[:200]
    return f"{url} answered {status or 'nothing'}: {detail}"
