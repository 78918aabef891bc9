# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render a usage report (from usage_report) as JSON, CSV, Markdown or one self-contained HTML page.

The HTML page carries its CSS inline and one SVG chart per tenant (daily cost as bars, cumulative
cost as a line, the budget's pace as a dashed line); no JavaScript, nothing fetched.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Mapping
from typing import Any

CSV_COLUMNS = (
    "line",
    "name",
    "tenant",
    "core_hours",
    "gib_hours",
    "storage_gib_hours",
    "loadbalancer_hours",
    "cpu",
    "memory",
    "storage",
    "loadbalancer",
    "idle",
    "platform",
    "total",
    "budget",
    "percent_used",
    "forecast",
    "forecast_percent",
    "status",
)


def _tenant_figures(tenant: Mapping[str, Any]) -> tuple:
    """A tenant row's figures, in the column order both the Markdown and the HTML tables use."""
    cost = tenant["cost"]
    parts = ("cpu", "memory", "storage", "loadbalancer", "idle", "platform", "total")
    return tuple(cost[part] for part in parts) + (tenant["budget"], tenant["percent_used"], tenant["forecast"])


ADDON_HEADINGS = ("Tenant", "Add-on", "Type", "Plan", "Monthly", "Hours", "Cost", "Charged by")


def _addon_figures(report: Mapping[str, Any]) -> list[tuple]:
    """The add-on lines (usage_report's ``addons``), in ADDON_HEADINGS order, for the Markdown and HTML tables."""
    return [
        (a["tenant"], a["addon"], a["type"], a["plan"], a["monthly"], a["hours"], a["cost"], a["charged_by"])
        for a in (report.get("addons") or {}).get("lines", [])
    ]


def _fmt(value: Any, places: int = 4) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return ("%.*f" % (places, value)).rstrip("0").rstrip(".") if value != int(value) else "%d" % value
    return str(value)


def _rows(report: Mapping[str, Any]) -> list[dict]:
    rows = []
    for tenant in report.get("tenants", []):
        row = {"line": "tenant", "name": tenant["name"], "tenant": tenant["name"]}
        keys = (
            "core_hours",
            "gib_hours",
            "storage_gib_hours",
            "loadbalancer_hours",
            "budget",
            "percent_used",
            "forecast",
            "forecast_percent",
            "status",
        )
        row.update({key: tenant.get(key) for key in keys})
        row.update(tenant["cost"])
        rows.append(row)
    for ns in report.get("namespaces", []):
        row = {
            "line": "namespace:%s" % ns["category"],
            "name": ns["name"],
            "tenant": ns.get("tenant"),
            "forecast": ns.get("forecast"),
        }
        row.update({key: ns.get(key) for key in ("core_hours", "gib_hours", "storage_gib_hours", "loadbalancer_hours")})
        row.update(ns["cost"])
        rows.append(row)
    for a in (report.get("addons") or {}).get("lines", []):
        rows.append(
            {
                "line": "addon:%s" % a["type"],
                "name": a["addon"],
                "tenant": a["tenant"],
                "total": a["cost"],
                "status": a["charged_by"],
            }
        )
    idle = report.get("idle")
    if idle:
        rows.append(
            {
                "line": "idle",
                "name": "idle",
                "core_hours": idle["core_hours"],
                "gib_hours": idle["gib_hours"],
                "cpu": idle["cost"]["cpu"],
                "memory": idle["cost"]["memory"],
                "total": idle["cost"]["total"],
            }
        )
    for item in report.get("unpriced", []):
        rows.append(
            {
                "line": "unpriced",
                "name": "%s/%s" % (item["kind"], item["name"]),
                "core_hours": item.get("core_hours"),
                "gib_hours": item.get("gib_hours"),
                "storage_gib_hours": item.get("storage_gib_hours"),
                "loadbalancer_hours": item.get("loadbalancer_hours"),
                "status": item.get("reason"),
            }
        )
    return rows


def to_json(report: Mapping[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=True) + "\n"


def to_csv(report: Mapping[str, Any]) -> str:
    """One row per tenant, namespace, idle and unpriced item; money in the report's currency."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in _rows(report):
        writer.writerow({key: _fmt(row.get(key)) for key in CSV_COLUMNS})
    return out.getvalue()


def _md_escape(value: Any) -> str:
    return _fmt(value).replace("|", "\\|")


def to_markdown(report: Mapping[str, Any]) -> str:
    window = report["window"]
    cur = report["currency"]
    lines = [
        "# Usage and cost, %s to %s" % (window["start"], window["end"]),
        "",
        "%s hours; amounts in %s; forecast is the linear run rate to the end of the month (%s hours)."
        % (_fmt(window["hours"]), cur, _fmt(window["month_hours"])),
        "",
        "## Tenants",
        "",
        "| Tenant | CPU | Memory | Storage | LB | Idle | Platform | Total | Budget | Used % | Forecast | Status |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for t in report.get("tenants", []):
        lines.append("| %s |" % " | ".join(_md_escape(v) for v in (t["name"], *_tenant_figures(t), t["status"])))
    lines += [
        "",
        "## Namespaces",
        "",
        "| Namespace | Kind | Tenant | Core-hours | GiB-hours | Storage GiB-hours | LB hours | Total |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for ns in report.get("namespaces", []):
        lines.append(
            "| %s |"
            % " | ".join(
                _md_escape(v)
                for v in (
                    ns["name"],
                    ns["category"],
                    ns.get("tenant") or "",
                    ns["core_hours"],
                    ns["gib_hours"],
                    ns["storage_gib_hours"],
                    ns["loadbalancer_hours"],
                    ns["cost"]["total"],
                )
            )
        )
    if report.get("addons"):
        lines += ["", "## Add-ons", "", "| %s |" % " | ".join(ADDON_HEADINGS), "|---|---|---|---|---:|---:|---:|---|"]
        lines += ["| %s |" % " | ".join(_md_escape(v) for v in row) for row in _addon_figures(report)]
    idle = report.get("idle", {})
    platform = report.get("platform", {})
    total = report.get("total", {})
    lines += [
        "",
        "## Cluster",
        "",
        "- Nodes %s, storage %s, load balancers %s: **%s %s** (forecast %s)"
        % (
            _fmt(total.get("nodes")),
            _fmt(total.get("storage")),
            _fmt(total.get("loadbalancer")),
            _fmt(total.get("cost")),
            cur,
            _fmt(total.get("forecast")),
        ),
        "- Idle: %s (%s shared to tenants)"
        % (_fmt(idle.get("cost", {}).get("total")), _fmt(idle.get("shared_to_tenants"))),
        "- Platform: %s (%s shared to tenants)"
        % (_fmt(platform.get("cost", {}).get("total")), _fmt(platform.get("shared_to_tenants"))),
    ]
    if "out_of_cluster" in total:
        lines.append("- Out of cluster (AWS spend, add-on plans), in the total: %s" % _fmt(total["out_of_cluster"]))
    if report.get("unpriced"):
        lines += ["", "## Unpriced", ""]
        for item in report["unpriced"]:
            lines.append("- %s %s: %s; fix: %s" % (item["kind"], _md_escape(item["name"]), item["reason"], item["fix"]))
    return "\n".join(lines) + "\n"


def chart_svg(tenant: Mapping[str, Any], month_hours: float, width: int = 640, height: int = 220) -> str:
    """Daily cost bars, cumulative cost line and the budget's pace (budget x hours elapsed / month hours)."""
    daily = tenant.get("daily") or []
    left, right, top, bottom = 56, 12, 12, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    budget = tenant.get("budget")
    pace = []
    if budget:
        for index in range(len(daily)):
            pace.append(budget * 24 * (index + 1) / month_hours)
    peak = max([d["cumulative"] for d in daily] + pace + [0.0001])
    n = max(1, len(daily))
    step = plot_w / n

    def y(value: float) -> float:
        return top + plot_h - (value / peak) * plot_h

    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" '
        'aria-label="%s">' % (width, height, width, height, html.escape("Cost of %s by day" % tenant["name"])),
        '<line x1="%d" y1="%d" x2="%d" y2="%d" class="axis"/>' % (left, top + plot_h, left + plot_w, top + plot_h),
        '<line x1="%d" y1="%d" x2="%d" y2="%d" class="axis"/>' % (left, top, left, top + plot_h),
        '<text x="%d" y="%d" class="label" text-anchor="end">%s</text>' % (left - 4, top + 10, _fmt(peak, 2)),
        '<text x="%d" y="%d" class="label" text-anchor="end">0</text>' % (left - 4, top + plot_h),
    ]
    for index, day in enumerate(daily):
        x = left + index * step
        bar_h = (day["cost"] / peak) * plot_h
        parts.append(
            '<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" class="bar"><title>%s: %s</title></rect>'
            % (x + step * 0.15, top + plot_h - bar_h, step * 0.7, bar_h, html.escape(day["date"]), _fmt(day["cost"]))
        )
        if n <= 16 or index % max(1, n // 8) == 0:
            parts.append(
                '<text x="%.1f" y="%d" class="label" text-anchor="middle">%s</text>'
                % (x + step / 2, top + plot_h + 14, html.escape(day["date"][5:]))
            )
    if daily:
        points = " ".join("%.1f,%.1f" % (left + (i + 0.5) * step, y(d["cumulative"])) for i, d in enumerate(daily))
        parts.append('<polyline points="%s" class="cumulative"/>' % points)
    if pace:
        points = " ".join("%.1f,%.1f" % (left + (i + 0.5) * step, y(v)) for i, v in enumerate(pace))
        parts.append('<polyline points="%s" class="pace"/>' % points)
    parts.append(
        '<text x="%d" y="%d" class="label">bars: daily cost; line: cumulative; dashed: budget pace</text>'
        % (left, height - 4)
    )
    parts.append("</svg>")
    return "".join(parts)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1b1f24}
table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #d0d7de;padding:.3rem .6rem}
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f6f8fa}
.ok{color:#1a7f37}.notice{color:#0969da}.warning{color:#9a6700}.exceeded{color:#cf222e;font-weight:bold}
svg .axis{stroke:#57606a}svg .bar{fill:#54aeff}svg .cumulative{fill:none;stroke:#0550ae;stroke-width:2}
svg .pace{fill:none;stroke:#cf222e;stroke-width:1.5;stroke-dasharray:6 4}svg .label{font-size:10px;fill:#57606a}
"""


def to_html(report: Mapping[str, Any], title: str | None = None) -> str:
    """A single HTML page: summary tables and a chart per tenant. Everything inline."""
    window = report["window"]
    cur = html.escape(report["currency"])
    heading = html.escape(title or "Platykus usage and cost")
    esc = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>%s</title><style>%s</style></head><body>' % (heading, _CSS),
        "<h1>%s</h1>" % heading,
        "<p>%s to %s (%s hours). Amounts in %s. Forecast: linear run rate to the end of the month.</p>"
        % (esc(window["start"]), esc(window["end"]), esc(_fmt(window["hours"])), cur),
        "<h2>Tenants</h2><table><tr><th>Tenant</th><th>CPU</th><th>Memory</th><th>Storage</th><th>LB</th><th>Idle</th>"
        "<th>Platform</th><th>Total</th><th>Budget</th><th>Used %</th><th>Forecast</th><th>Status</th></tr>",
    ]
    for t in report.get("tenants", []):
        cells = "".join('<td class="n">%s</td>' % esc(_fmt(v)) for v in _tenant_figures(t))
        out.append(
            '<tr><td>%s</td>%s<td class="%s">%s</td></tr>' % (esc(t["name"]), cells, esc(t["status"]), esc(t["status"]))
        )
    out.append("</table>")
    for t in report.get("tenants", []):
        out.append("<h3>%s</h3>" % esc(t["name"]))
        out.append(chart_svg(t, float(window["month_hours"])))
    out.append(
        "<h2>Namespaces</h2><table><tr><th>Namespace</th><th>Kind</th><th>Tenant</th><th>Core-hours</th>"
        "<th>GiB-hours</th><th>Storage GiB-hours</th><th>LB hours</th><th>Total</th></tr>"
    )
    for ns in report.get("namespaces", []):
        cells = "".join(
            '<td class="n">%s</td>' % esc(_fmt(v))
            for v in (
                ns["core_hours"],
                ns["gib_hours"],
                ns["storage_gib_hours"],
                ns["loadbalancer_hours"],
                ns["cost"]["total"],
            )
        )
        out.append(
            "<tr><td>%s</td><td>%s</td><td>%s</td>%s</tr>"
            % (esc(ns["name"]), esc(ns["category"]), esc(ns.get("tenant") or ""), cells)
        )
    out.append("</table>")
    if report.get("addons"):
        out.append("<h2>Add-ons</h2><table><tr>%s</tr>" % "".join("<th>%s</th>" % h for h in ADDON_HEADINGS))
        for row in _addon_figures(report):
            out.append("<tr>%s</tr>" % "".join("<td>%s</td>" % esc(_fmt(v)) for v in row))
        out.append("</table>")
    total = report.get("total", {})
    idle = report.get("idle", {})
    out.append(
        "<h2>Cluster</h2><p>Nodes %s, storage %s, load balancers %s: <b>%s %s</b>, forecast %s. Idle %s.</p>"
        % (
            esc(_fmt(total.get("nodes"))),
            esc(_fmt(total.get("storage"))),
            esc(_fmt(total.get("loadbalancer"))),
            esc(_fmt(total.get("cost"))),
            cur,
            esc(_fmt(total.get("forecast"))),
            esc(_fmt(idle.get("cost", {}).get("total"))),
        )
    )
    if report.get("unpriced"):
        out.append("<h2>Unpriced</h2><ul>")
        for item in report["unpriced"]:
            out.append(
                "<li>%s %s: %s; fix: %s</li>"
                % (esc(item["kind"]), esc(item["name"]), esc(item["reason"] or ""), esc(item["fix"] or ""))
            )
        out.append("</ul>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
