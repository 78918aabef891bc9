#!/usr/bin/env python3
"""Benchmark: usage_report's Prometheus source over a month, beside the raw range queries alone.

Synthetic history (OpenMetrics, backfilled with ``promtool tsdb create-blocks-from openmetrics``
into a Prometheus of its own on 127.0.0.1): ``--pods`` pods running the whole window in
``--namespaces`` namespaces (labelled as a tenant per 4 namespaces) on ``--nodes`` nodes, with the
series the ``scheduler`` metric profile reads: kube-scheduler's ``kube_pod_resource_request``
(cpu and memory), the kubelet's ``container_memory_working_set_bytes`` (hourly) and
``container_cpu_usage_seconds_total`` (every 30 minutes, so a 1h rate has two samples), node
discovery's ``up{job="kubernetes-nodes"}`` and ``kube_node_status_capacity``.

Then times, side by side, ``--repeat`` times each:

* the floor: the very range queries the report makes (same PromQL, same chunks, 1h step), each
  answer fetched and read whole over HTTP, nothing decoded;
* the report: ``_cost.allocate.allocate`` with the ``History`` reader over the same endpoint (queries,
  JSON decoding, the allocation one day at a time, the report).

    .venv/bin/python scripts/bench_cost_history.py [--pods 10000] [--namespaces 200] [--days 30] \\
        [--nodes 100] [--repeat 3] [--promtool PATH] [--prometheus PATH] [--workdir DIR]

promtool and prometheus default to $PROMTOOL / $PROMETHEUS, then the lab's builds
(`bin/platykus-lab build`: lab/controllers.yml entries prometheus and promtool, one pin).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "collections")]

from ansible_collections.platykus.platform.plugins.module_utils._cost.allocate import allocate  # noqa: E402
from ansible_collections.platykus.platform.plugins.module_utils._cost.history import (  # noqa: E402
    Grid,
    History,
    history_queries,
)
from ansible_collections.platykus.platform.plugins.module_utils._cost.prices import validate_prices  # noqa: E402
from ansible_collections.platykus.platform.plugins.module_utils._cost.prometheus import (  # noqa: E402
    PrometheusEndpoint,
    http_fetch,
    prometheus_range,
)
from ansible_collections.platykus.platform.plugins.module_utils._cost.times import make_window  # noqa: E402

STEP = 3600
NODE_TYPE = "m5.4xlarge"
GIB = 2**30


def find_binary(name: str, given: str | None) -> Path:
    sys.path.insert(0, str(ROOT / "lab"))
    from platykus_lab import controllers

    candidates = [given, os.environ.get(name.upper()), str(controllers.binary_path(controllers.load_specs()[name]))]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    sys.exit("%s not found: pass --%s, or build it: bin/platykus-lab build" % (name, name))


def window(days: int) -> tuple[datetime, datetime]:
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    end = end.replace(hour=0)  # a whole number of days, ending at a UTC midnight
    return end - timedelta(days=days), end


def write_openmetrics(path: Path, args: argparse.Namespace, start: int, end: int) -> int:
    """Every series, grouped by family then series, samples in time order; returns the sample count."""
    hours = range(start, end, STEP)
    halves = range(start, end, STEP // 2)
    count = 0
    with path.open("w", buffering=1 << 20) as out:

        def family(name: str, kind: str, series: list[tuple[str, list[tuple[int, str]]]]) -> None:
            nonlocal count
            out.write("# TYPE %s %s\n" % (name, kind))
            for labels, points in series:
                out.write("".join("%s{%s} %s %d\n" % (name, labels, v, t) for t, v in points))
                count += len(points)

        nodes = ["node-%03d" % i for i in range(args.nodes)]
        family(
            "up",
            "gauge",
            [
                (
                    'job="kubernetes-nodes",node="%s",instance_type="%s",capacity_type="on-demand",zone="us-east-1%s"'
                    % (n, NODE_TYPE, "abc"[i % 3]),
                    [(t, "1") for t in hours],
                )
                for i, n in enumerate(nodes)
            ],
        )
        family(
            "kube_node_status_capacity",
            "gauge",
            [('node="%s",resource="cpu",unit="core"' % n, [(t, "16") for t in hours]) for n in nodes]
            + [('node="%s",resource="memory",unit="byte"' % n, [(t, str(64 * GIB)) for t in hours]) for n in nodes],
        )

        def pods():
            for i in range(args.pods):
                yield "ns-%03d" % (i % args.namespaces), "p%05d" % i, nodes[i % args.nodes], i

        out.write("# TYPE kube_pod_resource_request gauge\n")
        for ns, pod, node, _i in pods():
            base = 'namespace="%s",pod="%s",node="%s"' % (ns, pod, node)
            out.write("".join('kube_pod_resource_request{%s,resource="cpu"} 0.1 %d\n' % (base, t) for t in hours))
            out.write(
                "".join('kube_pod_resource_request{%s,resource="memory"} 268435456 %d\n' % (base, t) for t in hours)
            )
            count += 2 * len(hours)
        out.write("# TYPE container_memory_working_set_bytes gauge\n")
        for ns, pod, _node, i in pods():
            base = 'namespace="%s",pod="%s",container="main"' % (ns, pod)
            # every 10th pod uses more than it asked for (384Mi against 256Mi)
            value = 402653184 if i % 10 == 0 else 134217728
            out.write("".join("container_memory_working_set_bytes{%s} %d %d\n" % (base, value, t) for t in hours))
            count += len(hours)
        out.write("# TYPE container_cpu_usage_seconds counter\n")
        for ns, pod, _node, i in pods():
            base = 'namespace="%s",pod="%s",container="main"' % (ns, pod)
            rate = 0.2 if i % 10 == 0 else 0.05  # cores; every 10th above its 0.1 request
            out.write(
                "".join(
                    "container_cpu_usage_seconds_total{%s} %.1f %d\n" % (base, rate * (t - start), t) for t in halves
                )
            )
            count += len(halves)
        out.write("# EOF\n")
    return count


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_prometheus(binary: Path, data: Path, workdir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    config = workdir / "prometheus.yml"
    config.write_text(yaml.safe_dump({"global": {"scrape_interval": "1m"}, "scrape_configs": []}))
    log = (workdir / "prometheus.log").open("w")
    proc = subprocess.Popen(
        [
            str(binary),
            "--config.file=%s" % config,
            "--storage.tsdb.path=%s" % data,
            "--storage.tsdb.retention.time=400d",
            "--web.listen-address=127.0.0.1:%d" % port,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = "http://127.0.0.1:%d" % port
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(url + "/-/ready", timeout=2).status == 200:
                return proc, url
        except OSError:
            time.sleep(1)
    proc.terminate()
    sys.exit("Prometheus did not become ready; see %s" % (workdir / "prometheus.log"))


def history(url: str, win, fetch) -> History:
    w = make_window(win[0], win[1])
    return History(
        history_queries("scheduler", None, STEP),
        Grid(w, STEP),
        lambda q, first, last: prometheus_range(url, q, first, last, STEP, fetch),
    )


def floor_run(url: str, win) -> tuple[float, int]:
    """The report's range queries, each answer fetched and read whole; nothing decoded."""
    raw = http_fetch(PrometheusEndpoint(url))
    reader = history(url, win, raw)
    requests = []
    for key in ("nodes", "node_capacity"):
        requests += [(key, c) for c in reader.grid.chunks(*win)]
    for start, end in reader.grid.window.days():
        for key in ("pod_requests", "pod_cpu_usage", "pod_memory_usage"):
            requests += [(key, c) for c in reader.grid.chunks(start, end)]
    size = 0
    began = time.perf_counter()
    for key, (first, last) in requests:
        params = {"query": reader.queries[key], "start": first, "end": last, "step": "%ds" % STEP}
        size += len(raw("%s/api/v1/query_range?%s" % (url, urllib.parse.urlencode(params))))
    return time.perf_counter() - began, size


def report_run(url: str, win, args: argparse.Namespace) -> tuple[float, dict]:
    catalog = validate_prices(yaml.safe_load((ROOT / "vars/prices.yml").read_text())["platykus_prices"])
    namespaces = [
        {"metadata": {"name": "ns-%03d" % i, "labels": {"platykus.io/tenant": "t-%03d" % (i // 4)}}}
        for i in range(args.namespaces)
    ]
    began = time.perf_counter()
    report = allocate(
        nodes=[],
        pods=[],
        namespaces=namespaces,
        catalog=catalog,
        window=make_window(win[0], win[1]),
        history=history(url, win, http_fetch(PrometheusEndpoint(url))),
    )
    return time.perf_counter() - began, report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=10000)
    parser.add_argument("--namespaces", type=int, default=200)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--promtool")
    parser.add_argument("--prometheus")
    parser.add_argument("--workdir", help="keep the data here (reused when it holds blocks)")
    parser.add_argument("--generate-only", action="store_true", help="write the OpenMetrics file and stop")
    parser.add_argument("--report-days", type=int, help="report only the last N days of the data (default: all)")
    args = parser.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bench-cost-"))
    workdir.mkdir(parents=True, exist_ok=True)
    data, source, meta = workdir / "data", workdir / "history.om", workdir / "bench.json"
    wanted = {"pods": args.pods, "namespaces": args.namespaces, "nodes": args.nodes, "days": args.days}
    state = json.loads(meta.read_text()) if meta.exists() else {}
    if state.get("args") != wanted:
        shutil.rmtree(data, ignore_errors=True)
        win = window(args.days)
        began = time.perf_counter()
        samples = write_openmetrics(source, args, int(win[0].timestamp()), int(win[1].timestamp()))
        print(
            "wrote %d samples (%.0f MB) in %.0fs" % (samples, source.stat().st_size / 1e6, time.perf_counter() - began)
        )
        state = {"args": wanted, "samples": samples, "window": [w.isoformat() for w in win], "backfilled": False}
        meta.write_text(json.dumps(state))
    if args.generate_only:
        return 0
    promtool, prometheus = find_binary("promtool", args.promtool), find_binary("prometheus", args.prometheus)
    if not state.get("backfilled"):
        shutil.rmtree(data, ignore_errors=True)
        began = time.perf_counter()
        subprocess.run(
            # One block for the whole window: with the default 2h blocks promtool reads the file once per block.
            [
                str(promtool),
                "tsdb",
                "create-blocks-from",
                "openmetrics",
                "--max-block-duration=1500h",
                str(source),
                str(data),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        print("backfilled in %.0fs" % (time.perf_counter() - began))
        source.unlink()
        state["backfilled"] = True
        meta.write_text(json.dumps(state))
    samples = json.loads(meta.read_text())["samples"]
    win = tuple(datetime.fromisoformat(w) for w in json.loads(meta.read_text())["window"])
    if args.report_days:
        win = (win[1] - timedelta(days=args.report_days), win[1])
    proc, url = start_prometheus(prometheus, data, workdir)
    try:
        floors, reports, size, report = [], [], 0, {}
        for _ in range(args.repeat):
            seconds, size = floor_run(url, win)
            floors.append(seconds)
            print("floor: %.1fs (%.0f MB)" % (seconds, size / 1e6), flush=True)
            seconds, report = report_run(url, win, args)
            reports.append(seconds)
            print("report: %.1fs" % seconds, flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    floor, full = statistics.median(floors), statistics.median(reports)
    charged = sum(t["core_hours"] for t in report["tenants"])
    print()
    print(
        "%d pods in %d namespaces on %d nodes, %s days at 1h steps (%d samples in Prometheus; %.0f MB of answers)"
        % (args.pods, args.namespaces, args.nodes, args.report_days or args.days, samples, size / 1e6)
    )
    print()
    print("| run (median of %d) | seconds | ratio |" % args.repeat)
    print("|---|---:|---:|")
    print("| raw range queries alone (the floor) | %.1f | 1.00 |" % floor)
    print("| usage_report, source prometheus (queries + allocation + report) | %.1f | %.2f |" % (full, full / floor))
    print()
    print(
        "report: %d tenants, %.0f core-hours charged, nodes %.2f %s, idle %.2f"
        % (
            len(report["tenants"]),
            charged,
            report["total"]["nodes"],
            report["currency"],
            report["idle"]["cost"]["total"],
        )
    )
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
