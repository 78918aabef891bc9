#!/usr/bin/env python3
"""Time `platykus-lab up` with cached binaries: from stopped (fresh state) and when already running.

.venv/bin/python scripts/bench_lab_up.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "lab"))

from platykus_lab.cluster import Lab  # noqa: E402
from platykus_lab.config import bin_dir, node_pools_from_inventory  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    pools = node_pools_from_inventory(ROOT / "inventories" / "lab")
    lab = Lab.named("bench-up", binaries=bin_dir())
    quiet = lambda _msg: None  # noqa: E731
    fresh, running, down = [], [], []
    for _ in range(args.repeat):
        lab.down(purge=True, log=quiet)
        start = time.perf_counter()
        lab.up(pools, log=quiet)
        fresh.append(time.perf_counter() - start)
        start = time.perf_counter()
        lab.up(pools, log=quiet)
        running.append(time.perf_counter() - start)
        start = time.perf_counter()
        lab.down(log=quiet)
        down.append(time.perf_counter() - start)
    lab.down(purge=True, log=quiet)
    nodes = sum(p.count for p in pools)
    print(f"| step ({nodes} nodes, {args.repeat} runs) | median | max |")
    print("| --- | ---: | ---: |")
    for name, values in (
        ("up from a stopped lab, new state (PKI, etcd)", fresh),
        ("up when already running", running),
        ("down", down),
    ):
        print(f"| {name} | {statistics.median(values):.1f} s | {max(values):.1f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
