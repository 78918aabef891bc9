"""Stand-in charts for the platform service catalog, served from a local chart repository.

Every (chart, version) the catalog pins gets a stand-in with the same name and version, built from
tests/charts/_template plus the CRDs and aggregating ClusterRoles tests/charts/standins.yml lists:
it records the values it was given in a ConfigMap (<release>-platykus-values) and runs one tiny
Deployment (kwok runs the pod without an image). Nothing is committed per version, so a pin bump
needs no new files.

    python tests/standin_charts.py out/charts          # build + index, then serve with http.server
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CHARTS = Path(__file__).resolve().parent / "charts"
TEMPLATE = CHARTS / "_template"
CATALOG = ROOT / "catalog" / "services.yml"


def catalog_charts(extra: list[tuple[str, str]] = ()) -> list[tuple[str, str]]:
    """Every (chart, version) the catalog pins, for all providers, plus ``extra``."""
    services = yaml.safe_load(CATALOG.read_text())["platykus_catalog_services"]
    pins = {(spec["chart"], str(spec["version"])) for spec in services.values()}
    return sorted(pins | set(extra))


def _crd(spec: dict) -> dict:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{spec['plural']}.{spec['group']}"},
        "spec": {
            "group": spec["group"],
            "scope": spec["scope"],
            "names": {
                "kind": spec["kind"],
                "plural": spec["plural"],
                "singular": spec["kind"].lower(),
                "listKind": f"{spec['kind']}List",
            },
            "versions": [
                {
                    "name": spec["version"],
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                }
            ],
        },
    }


def _aggregate_roles(roles: list[dict]) -> str:
    parts = []
    for role in roles:
        name = role["name"].replace("{release}", "{{ .Release.Name }}")
        labels = "\n".join(f'    rbac.authorization.k8s.io/aggregate-to-{to}: "true"' for to in role["to"])
        verbs = "[get, list, watch]" if role["to"][0] == "view" else "[get, list, watch, create, update, patch, delete]"
        body = (
            "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n"
            f'  name: "{name}"\n  labels:\n{labels}\n'
            f"rules:\n  - apiGroups: [{role['group']}]\n    resources: ['*']\n    verbs: {verbs}\n"
        )
        if role.get("when"):
            *path, default = role["when"]
            keys = " ".join(f'"{key}"' for key in path)
            body = f"{{{{- if dig {keys} {str(default).lower()} $values }}}}\n{body}{{{{- end }}}}\n"
        parts.append(body)
    return "{{- $values := .Values | toYaml | fromYaml }}\n" + "".join(parts)


def build_chart(name: str, version: str, dest: Path) -> Path:
    """Write the stand-in source of ``name`` ``version`` to ``dest/name-version``."""
    extras = (yaml.safe_load((CHARTS / "standins.yml").read_text()) or {}).get(name) or {}
    chart_dir = dest / f"{name}-{version}" / name
    shutil.copytree(TEMPLATE, chart_dir)
    chart_yaml = chart_dir / "Chart.yaml"
    chart_yaml.write_text(chart_yaml.read_text().replace("__NAME__", name).replace("__VERSION__", version))
    if extras.get("crds"):
        (chart_dir / "crds").mkdir()
        (chart_dir / "crds" / "crds.yaml").write_text(yaml.safe_dump_all([_crd(c) for c in extras["crds"]]))
    if extras.get("aggregate_roles"):
        (chart_dir / "templates" / "aggregate-clusterroles.yaml").write_text(
            _aggregate_roles(extras["aggregate_roles"])
        )
    return chart_dir


def build_repository(dest: Path, helm: str = "helm", extra: list[tuple[str, str]] = ()) -> Path:
    """Package every stand-in into ``dest/repo`` and index it; returns the repository directory."""
    sources, repo = dest / "src", dest / "repo"
    repo.mkdir(parents=True, exist_ok=True)
    for name, version in catalog_charts(extra):
        chart_dir = build_chart(name, version, sources)
        subprocess.run([helm, "package", str(chart_dir), "-d", str(repo)], check=True, capture_output=True, text=True)
    subprocess.run([helm, "repo", "index", str(repo)], check=True, capture_output=True, text=True)
    return repo


class ChartServer:
    """The repository over HTTP on 127.0.0.1 and a free port, in a daemon thread."""

    def __init__(self, directory: Path) -> None:
        handler = partial(_QuietHandler, directory=str(directory))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ChartServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        pass


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "out" / "charts")
    shutil.rmtree(out, ignore_errors=True)
    print(build_repository(out, helm=shutil.which("helm") or "helm"))
