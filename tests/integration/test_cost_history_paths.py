"""The cost history's pod reading on a real Prometheus against the one it replaced: floats read once
per sample (the default now) and the Decimal-per-sample reading give the same pods, the same time
and the same money.

Three days of samples with the cases the rule has to get right (usage above and below the request,
a pod deleted mid-day, a pod with only a memory request, usage without any request, a pod moving
node, two request series of one pod, fractions that do not add up exactly in binary) are written as
OpenMetrics, backfilled with the lab's promtool into a Prometheus of the lab's build on 127.0.0.1,
and read back over a window whose ends cut steps, at 1h and 5m steps.
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from conftest import SHARED_VARS

from ansible_collections.platykus.platform.plugins.module_utils._cost.allocate import allocate
from ansible_collections.platykus.platform.plugins.module_utils._cost.history import (
    Grid,
    History,
    history_queries,
)
from ansible_collections.platykus.platform.plugins.module_utils._cost.index import PodRun
from ansible_collections.platykus.platform.plugins.module_utils._cost.prices import validate_prices
from ansible_collections.platykus.platform.plugins.module_utils._cost.prometheus import (
    PrometheusEndpoint,
    http_fetch,
    prometheus_range,
)
from ansible_collections.platykus.platform.plugins.module_utils._cost.times import make_window
from ansible_collections.platykus.platform.tests.unit.plugins.module_utils.history_reference import reference_runs
from platykus_lab import controllers

GIB = 2**30
DAY0 = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=4)
T0 = int(DAY0.timestamp())
SCRAPE = 60
NODES = {"n1": "m5.xlarge", "n2": "m5.large"}


def binary(name: str) -> Path:
    spec = controllers.load_specs()[name]
    path = controllers.binary_path(spec)
    if not path.exists():
        controllers.build_one(spec)  # cached by the pin: scripts/setup.sh has built it already
    return path


def _line(name: str, labels: dict, value: float, t: int) -> str:
    text = ",".join('%s="%s"' % item for item in labels.items())
    return "%s{%s} %r %d\n" % (name, text, value, t)


def openmetrics(end: int) -> str:
    """Every case, sample every minute from T0 to ``end``."""
    req, mem, cpu, up, cap = [], [], [], [], []
    for t in range(T0, end, SCRAPE):
        minute = (t - T0) // 60
        for node, kind in NODES.items():
            up.append(_line("up", {"job": "kubernetes-nodes", "node": node, "instance_type": kind,
                                   "capacity_type": "on-demand", "zone": "us-east-1a"}, 1, t))  # fmt: skip
            cores, size = (4, 16 * GIB) if kind == "m5.xlarge" else (2, 8 * GIB)
            cap.append(_line("kube_node_status_capacity", {"node": node, "resource": "cpu"}, cores, t))
            cap.append(_line("kube_node_status_capacity", {"node": node, "resource": "memory"}, size, t))

        def pod(ns, name, node, requests, usage_cores=None, usage_bytes=None, extra=None, t=t):
            base = {"namespace": ns, "pod": name, "node": node}
            for resource, value in requests.items():
                req.append(_line("kube_pod_resource_request", {**base, "resource": resource}, value, t))
                if extra:
                    req.append(_line("kube_pod_resource_request", {**base, "resource": resource, **extra}, value, t))
            labels = {"namespace": ns, "pod": name, "container": "main"}
            if usage_cores is not None:
                cpu.append(_line("container_cpu_usage_seconds_total", labels, round(usage_cores * (t - T0), 3), t))
            if usage_bytes is not None:
                mem.append(_line("container_memory_working_set_bytes", labels, usage_bytes, t))

        # usage above the request half of each hour (cpu rate moves with the counter's slope)
        wave = 0.3 if (minute // 30) % 2 else 0.7
        pod("acme-dev", "web", "n1", {"cpu": 0.5, "memory": 0.1 * GIB}, wave, (0.3 if minute % 90 < 45 else 0.05) * GIB)
        if t < T0 + 86400 + 5 * 3600 + 17 * 60:  # deleted at 05:17 on day 1
            pod("acme-dev", "gone", "n2", {"cpu": 0.1, "memory": 0.2 * GIB}, 0.05, 0.1 * GIB)
        pod("acme-prod", "memonly", "n1", {"memory": 0.3 * GIB}, 0.1, 0.25 * GIB)
        # usage without a request sample: never charged
        cpu.append(_line("container_cpu_usage_seconds_total", {"namespace": "acme-prod", "pod": "ghost",
                                                               "container": "main"}, 0.2 * (t - T0), t))  # fmt: skip
        # rescheduled on n2 at 12:40 on day 1 (backfilled series have no staleness markers: for the 5 min
        # lookback both nodes' series answer, the pod's requests add up on the first node, as before)
        node = "n1" if t < T0 + 36 * 3600 + 40 * 60 else "n2"
        pod("globex-prod", "mover", node, {"cpu": 0.25, "memory": 0.5 * GIB}, 0.4, 0.1 * GIB)
        pod("globex-prod", "twice", "n2", {"cpu": 0.1, "memory": 0.1 * GIB}, None, 0.15 * GIB, extra={"priority": "x"})
    families = [
        ("up", up), ("kube_node_status_capacity", cap), ("kube_pod_resource_request", req),
        ("container_cpu_usage_seconds", cpu), ("container_memory_working_set_bytes", mem),
    ]  # fmt: skip
    out = []
    for name, lines in families:
        kind = "counter" if name.startswith("container_cpu") else "gauge"
        out.append("# TYPE %s %s\n" % (name, kind))
        out.extend(sorted(lines, key=lambda line: (line.split(" ")[0], int(line.split(" ")[-1]))))
    return "".join(out) + "# EOF\n"


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    work = tmp_path_factory.mktemp("history-paths")
    end = T0 + 3 * 86400
    (work / "history.om").write_text(openmetrics(end))
    subprocess.run(
        [str(binary("promtool")), "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=96h",
         str(work / "history.om"), str(work / "data")],
        check=True, capture_output=True,
    )  # fmt: skip
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    (work / "prometheus.yml").write_text(yaml.safe_dump({"global": {"scrape_interval": "1m"}}))
    log = (work / "prometheus.log").open("w")
    proc = subprocess.Popen(
        [str(binary("prometheus")), "--config.file=%s" % (work / "prometheus.yml"),
         "--storage.tsdb.path=%s" % (work / "data"), "--storage.tsdb.retention.time=30d",
         "--web.listen-address=127.0.0.1:%d" % port],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = "http://127.0.0.1:%d" % port
    deadline = time.monotonic() + 120
    while True:
        try:
            if urllib.request.urlopen(url + "/-/ready", timeout=2).status == 200:
                break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.terminate()
                pytest.fail("Prometheus did not start: %s" % (work / "prometheus.log").read_text()[-2000:])
            time.sleep(0.5)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


@dataclass(frozen=True)
class ReferenceHistory(History):
    """The previous pod reading: every sample a Decimal, charged step by step in Decimal."""

    def day(self, start, end):
        labels = ("namespace", "pod")
        requests, cpu, memory = (
            self._read(key, keys, start, end)
            for key, keys in (
                ("pod_requests", labels + ("node", "resource")),
                ("pod_cpu_usage", labels),
                ("pod_memory_usage", labels),
            )
        )
        runs = defaultdict(list)
        for node, pieces in reference_runs(requests, cpu, memory, self.grid).items():
            for key, micros, cores, gib, first in pieces:
                begin = max(start, datetime.fromtimestamp(first, UTC))  # the pod's first step that day
                runs[node].append(PodRun(*key, node, cores, gib, begin, begin + timedelta(microseconds=micros)))
        return runs


def reader(url: str, window, step: int, reference: bool = False) -> History:
    fetch = http_fetch(PrometheusEndpoint(url))

    def get(query: str, first: int, last: int):
        return prometheus_range(url, query, first, last, step, fetch)

    kind = ReferenceHistory if reference else History
    return kind(history_queries("scheduler", None, step), Grid(window, step), get)


WINDOW = make_window(DAY0 + timedelta(minutes=20, seconds=7), DAY0 + timedelta(days=2, hours=13, minutes=41))


@pytest.mark.parametrize("step", [3600, 300])
def test_float_reading_equals_the_decimal_reading_pod_by_pod(prometheus, step):
    sampled, summed = reader(prometheus, WINDOW, step, reference=True), reader(prometheus, WINDOW, step)
    pods = 0
    for start, end in WINDOW.days():
        old = {(r.namespace, r.name, r.node): r for runs in sampled.day(start, end).values() for r in runs}
        new = {(r.namespace, r.name, r.node): r for runs in summed.day(start, end).values() for r in runs}
        assert set(new) == set(old), (start, set(new) ^ set(old))
        for key, run in old.items():
            assert (new[key].start, new[key].end) == (run.start, run.end), key  # the same steps, to the microsecond
            assert abs(new[key].cores - run.cores) <= Decimal("1e-12") * max(run.cores, 1), key
            assert abs(new[key].gib - run.gib) <= Decimal("1e-12") * max(run.gib, 1), key
        pods += len(old)
        assert ("acme-prod", "ghost", "n1") not in new
    # 5 pods on day 0; 6 on day 1 (gone until 05:17, the mover on n1 then n2); 4 on day 2
    assert pods == 15


def test_the_report_is_the_same_to_the_cent(prometheus):
    catalog = validate_prices(yaml.safe_load((SHARED_VARS / "prices.yml").read_text())["platykus_prices"])
    namespaces = [
        {"metadata": {"name": ns, "labels": {"platykus.io/tenant": ns.split("-")[0]}}}
        for ns in ("acme-dev", "acme-prod", "globex-prod")
    ]
    reports = [
        allocate(nodes=[], pods=[], namespaces=namespaces, catalog=catalog, window=WINDOW,
                 history=reader(prometheus, WINDOW, 3600, reference))
        for reference in (True, False)
    ]  # fmt: skip
    old, new = ({t["name"]: t for t in r["tenants"]} for r in reports)
    assert set(old) == {"acme", "globex"}
    for name, row in old.items():
        assert row["cost"]["total"] > 0
        assert abs(new[name]["cost"]["total"] - row["cost"]["total"]) < 0.005, name
        assert new[name]["cost"] == pytest.approx(row["cost"], abs=1e-4)
        assert new[name]["core_hours"] == pytest.approx(row["core_hours"], abs=1e-6)
    assert reports[1]["idle"]["cost"] == pytest.approx(reports[0]["idle"]["cost"], abs=1e-4)
    # usage above the request: acme-dev's web pays more than its 0.5 cores for ~60 h
    web = {n["name"]: n for n in reports[1]["namespaces"]}["acme-dev"]
    assert web["core_hours"] > 0.5 * 60
