# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Things that have one home, read from the source: every AWS client is made by ``_aws/module.py``,
and every Kubernetes API version is named once, in ``_core/names.py``.

A new ``boto3.client(...)``, ``boto3.session.Session()``, ``session.client("sts")`` or API version
string anywhere else fails here, naming the file and the line.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PLUGINS = Path(__file__).resolve().parents[4] / "plugins"
MODULE_UTILS = PLUGINS / "module_utils"
FACTORY = "module_utils/_aws/module.py"
NAMES = "module_utils/_core/names.py"
# The kubeconfig's exec entry (``python -m ..._aws.eks_auth``): kubectl runs it outside Ansible, with no
# module to take connection options from, and it makes no AWS call (it signs a URL locally with the
# caller's credentials), so there is nothing to retry.
AWS_EXEMPT = {"module_utils/_aws/eks_auth.py": "signs the EKS token locally, run by kubectl"}
# Files of another change in flight whose inline API versions are still to move to names.py; the
# counts may only shrink.
API_PENDING: dict[str, int] = {}

_CLIENT_CALLS = {"client", "resource"}
_SESSION_CALLS = {"Session", "get_session", "setup_default_session", "client", "resource"}
# "<group>/<version>": a dotted group (networking.k8s.io, external-secrets.io) or one of the
# built-in groups without a dot. The core group's bare "v1" is not a group/version pair.
API_VERSION = re.compile(
    r"^(?:[a-z0-9-]+(?:\.[a-z0-9-]+)+|apps|batch|policy|autoscaling|storage|coordination)/v\d+(?:(?:alpha|beta)\d+)?$"
)


def _python_files() -> list[Path]:
    return sorted(path for path in PLUGINS.rglob("*.py") if "__pycache__" not in path.parts)


def _rel(path: Path) -> str:
    return path.relative_to(PLUGINS).as_posix()


def _root(node: ast.AST) -> str:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else ""


def aws_clients_made(source: str) -> list[tuple[int, str]]:
    """(line, what) for every boto3 import and every client or session made in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, "import %s" % a.name) for a in node.names if a.name.split(".")[0] == "boto3"]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "boto3":
            found.append((node.lineno, "from %s import" % node.module))
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id == "Session":
                found.append((node.lineno, "Session()"))
            elif isinstance(func, ast.Attribute):
                if _root(func) in ("boto3", "botocore") and func.attr in _SESSION_CALLS:
                    found.append((node.lineno, "%s...%s()" % (_root(func), func.attr)))
                elif func.attr in _CLIENT_CALLS and node.args and isinstance(node.args[0], ast.Constant):
                    if isinstance(node.args[0].value, str):  # a service name: .client("sts")
                        found.append((node.lineno, '.%s("%s")' % (func.attr, node.args[0].value)))
    return found


def api_versions(source: str) -> list[tuple[int, str]]:
    """(line, literal) for every string constant that is an API group/version."""
    return [
        (node.lineno, node.value)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and API_VERSION.match(node.value)
    ]


@pytest.mark.parametrize(
    "source, made",
    [
        ("import boto3\nboto3.client('iam')", ["import boto3", "boto3...client()"]),
        ("s = boto3.session.Session(region_name='x')", ["boto3...Session()"]),
        ("session.client('sts', endpoint_url=u)", ['.client("sts")']),
        ("from boto3.session import Session\nSession()", ["from boto3.session import", "Session()"]),
        ("clients(module)('iam')\nclient.resource(api_version, kind)", []),
    ],
)
def test_the_scan_sees_clients_being_made(source, made):
    assert [what for _line, what in aws_clients_made(source)] == made


@pytest.mark.parametrize("path", _python_files(), ids=_rel)
def test_only_the_factory_makes_aws_clients(path):
    if _rel(path) in (FACTORY, *AWS_EXEMPT):
        return
    made = aws_clients_made(path.read_text(encoding="utf-8"))
    assert not made, "%s makes AWS clients itself; use _aws.module.clients (the one factory): %s" % (
        _rel(path),
        "; ".join("line %d %s" % item for item in made),
    )


def test_the_exempt_files_exist_and_still_need_it():
    for rel in AWS_EXEMPT:
        assert aws_clients_made((PLUGINS / rel).read_text(encoding="utf-8")), "%s: drop it from AWS_EXEMPT" % rel


def test_the_api_version_scan_tells_a_group_version_from_other_strings():
    found = api_versions(
        'a = "networking.k8s.io/v1"\nb = "apps/v1"\nc = "v1"\nd = "a/b"\ne = "karpenter.kwok.sh/v1alpha1"'
    )
    assert [value for _line, value in found] == ["networking.k8s.io/v1", "apps/v1", "karpenter.kwok.sh/v1alpha1"]


@pytest.mark.parametrize(
    "path", sorted(MODULE_UTILS.rglob("*.py")), ids=lambda path: path.relative_to(MODULE_UTILS).as_posix()
)
def test_api_versions_are_named_only_in_names(path):
    rel = _rel(path)
    if rel == NAMES:
        return
    found = api_versions(path.read_text(encoding="utf-8"))
    allowed = API_PENDING.get(rel, 0)
    assert len(found) <= allowed, "%s: API versions outside _core/names.py (import its *_API_VERSION): %s" % (
        rel,
        "; ".join("line %d %r" % item for item in found),
    )


def test_names_holds_each_api_version_once():
    from ansible_collections.platykus.platform.plugins.module_utils._core import names

    values = [value for key, value in vars(names).items() if key.endswith("_API_VERSION")]
    assert values and all(API_VERSION.match(value) for value in values)
    assert len(values) == len(set(values)), "an API version is named twice in _core/names.py"
