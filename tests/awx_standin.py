"""A small stand-in of AWX's REST API (v2) for the awx.awx modules, with AWX's own validation rules.

It serves list/get/create/update/delete, filters (``name=``, ``or__id``/``or__name``), paging with
``next`` (a small page size so every lookup pages), association sub-lists (credentials, workflow
nodes, role members), survey_spec, project updates and the ``X-API-Product-*`` headers the modules
read. What AWX refuses is in tests/awx_rules.py (ported from AWX's source, cited there). A bearer
token is required. ``writes`` records every POST/PATCH/DELETE, so a test can prove a run changed nothing.
"""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import yaml
from awx_rules import (
    ENCRYPTED,
    credential_inputs_error,
    credential_type_error,
    display_survey,
    survey_spec_error,
)

API = "/api/v2/"
PAGE_SIZE = 3
# The object roles AWX gives each resource (summary_fields.object_roles), per collection.
ROLES = {
    "organizations": ("admin", "execute", "auditor", "member", "read"),
    "teams": ("admin", "member", "read"),
    "projects": ("admin", "use", "update", "read"),
    "inventories": ("admin", "use", "update", "adhoc", "read"),
    "credentials": ("admin", "use", "read"),
    "job_templates": ("admin", "execute", "read"),
    "workflow_job_templates": ("admin", "execute", "read", "approval"),
}
UNIFIED = ("job_templates", "workflow_job_templates", "projects", "inventory_sources")
# Association sub-lists: name -> the collection its members come from.
ASSOCIATIONS = {
    "credentials": "credentials",
    "success_nodes": "workflow_job_template_nodes",
    "failure_nodes": "workflow_job_template_nodes",
    "always_nodes": "workflow_job_template_nodes",
    "teams": "teams",
    "users": "users",
    "labels": "labels",
    "instance_groups": "instance_groups",
}
SINGULAR = {"inventories": "inventory", "inventory_sources": "inventory_source", "project_updates": "project_update"}
SKIP_DIRS = {".git", ".venv", "collections", "lab", "tests", "out", "molecule", "node_modules"}


class ApiError(Exception):
    def __init__(self, status: int, body: dict) -> None:
        super().__init__(body)
        self.status, self.body = status, body


def _is_playbook(path: Path) -> bool:
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError):
        return False
    keys = {"hosts", "import_playbook", "ansible.builtin.import_playbook"}
    return isinstance(data, list) and bool(data) and all(isinstance(p, dict) and keys & set(p) for p in data)


def project_playbooks(root: Path) -> list[str]:
    """The playbooks AWX would list for a project checkout: YAML files holding a list of plays."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        found += [str(Path(folder, f).relative_to(root)) for f in sorted(files) if f.endswith(".yml")]
    return [rel for rel in found if _is_playbook(root / rel)]


class AwxStandin:
    """AWX's objects in memory; ``handle`` answers one request."""

    def __init__(self, token: str, checkout: Path) -> None:
        self.token, self.checkout = token, checkout
        self.objects: dict[str, dict[int, dict]] = {}
        self.links: dict[tuple[str, int, str], list[int]] = {}
        self.surveys: dict[tuple[str, int], dict] = {}
        self.writes: list[tuple[str, str]] = []
        self.next_id = 1
        self.lock = threading.Lock()
        self.playbooks = project_playbooks(checkout)  # what a project update finds, once

    # -- objects ---------------------------------------------------------------------------
    def _new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def _add_roles(self, coll: str, obj: dict) -> None:
        roles = {}
        for role in ROLES.get(coll, ()):
            role_obj = self._store("roles", {"name": role, "resource": obj["id"]})
            roles["%s_role" % role] = {"id": role_obj["id"], "name": role}
        obj["summary_fields"] = {"object_roles": roles}

    def _store(self, coll: str, data: dict) -> dict:
        oid = self._new_id()
        url = "%s%s/%d/" % (API, coll, oid)
        obj = dict(data, id=oid, url=url, type=SINGULAR.get(coll, coll.rstrip("s")))
        obj["related"] = {name: "%s%s/" % (url, name) for name in ("survey_spec", "update", *ASSOCIATIONS)}
        obj.setdefault("summary_fields", {})
        self.objects.setdefault(coll, {})[oid] = obj
        return obj

    def _get(self, coll: str, oid: int) -> dict:
        obj = self.objects.get(coll, {}).get(oid)
        if obj is None:
            raise ApiError(404, {"detail": "Not found."})
        return obj

    def _view(self, coll: str, obj: dict) -> dict:
        """What GET shows: secret credential inputs as $encrypted$."""
        if coll != "credentials":
            return obj
        ctype = self._get("credential_types", obj["credential_type"])
        secret = {f["id"] for f in ctype["inputs"].get("fields", []) if f.get("secret")}
        return dict(obj, inputs={k: ENCRYPTED if k in secret and v else v for k, v in obj["inputs"].items()})

    # -- validation (AWX's serializers) ---------------------------------------------------
    def _validate(self, coll: str, data: dict, existing: dict | None) -> None:
        merged = dict(existing or {}, **data)
        error = None
        if coll == "credential_types":
            error = credential_type_error(merged)
        elif coll == "credentials":
            error = credential_inputs_error(
                self._get("credential_types", merged["credential_type"]), merged.get("inputs", {})
            )
        elif coll == "job_templates" and merged.get("playbook") not in self.playbooks:
            error = "Playbook not found for project."
        name_field = "identifier" if coll == "workflow_job_template_nodes" else "name"
        clash = [
            o
            for o in self.objects.get(coll, {}).values()
            if o.get(name_field) == merged.get(name_field)
            and o is not existing
            and o.get("organization") == merged.get("organization")
            and coll not in ("workflow_job_template_nodes", "schedules", "roles")
        ]
        if clash:
            error = "%s with this Name and Organization already exists." % coll
        if error:
            raise ApiError(400, {"__all__": [error]})

    def _create(self, coll: str, data: dict) -> tuple[int, dict]:
        self._validate(coll, data, None)
        obj = self._store(coll, data)
        self._add_roles(coll, obj)
        if coll == "projects" and data.get("scm_type"):
            update = self._store(
                "project_updates", {"status": "successful", "project": obj["id"], "scm_revision": "0" * 40}
            )
            obj["summary_fields"]["current_update"] = {"id": update["id"]}
            obj["scm_revision"] = ""
        return 201, obj

    def _update(self, coll: str, oid: int, data: dict) -> tuple[int, dict]:
        obj = self._get(coll, oid)
        self._validate(coll, data, obj)
        obj.update(data)
        return 200, self._view(coll, obj)

    # -- lists ------------------------------------------------------------------------------
    def _matches(self, obj: dict, query: dict[str, str]) -> bool:
        either = {k[4:]: v for k, v in query.items() if k.startswith("or__")}
        if either and not any(str(obj.get(k)) == v for k, v in either.items()):
            return False
        plain = {
            k: v for k, v in query.items() if not k.startswith("or__") and k not in ("page", "page_size", "order_by")
        }
        return all(str(obj.get(k)) == v for k, v in plain.items())

    def _page(self, path: str, items: list[dict], query: dict[str, str]) -> dict:
        page = int(query.get("page", 1))
        chunk = items[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        more = page * PAGE_SIZE < len(items)
        nxt = "%s?%s" % (path, urlencode(dict(query, page=page + 1))) if more else None
        prev = "%s?%s" % (path, urlencode(dict(query, page=page - 1))) if page > 1 else None
        return {"count": len(items), "next": nxt, "previous": prev, "results": chunk}

    def _list(self, path: str, coll: str, query: dict[str, str]) -> dict:
        colls = UNIFIED if coll == "unified_job_templates" else (coll,)
        items = [self._view(c, o) for c in colls for o in self.objects.get(c, {}).values()]
        items = sorted((o for o in items if self._matches(o, query)), key=lambda o: o["id"])
        return self._page(path, items, query)

    # -- sub-resources ----------------------------------------------------------------------
    def _survey(self, method: str, coll: str, oid: int, body: Any) -> tuple[int, dict]:
        self._get(coll, oid)
        old = self.surveys.get((coll, oid), {})
        if method == "GET":
            return 200, display_survey(old)
        if method == "DELETE":
            self.surveys.pop((coll, oid), None)
            return 200, {}
        error = survey_spec_error(body, old)
        if error:
            raise ApiError(400, {"error": error})
        self.surveys[(coll, oid)] = body
        return 200, {}

    def _association(
        self, method: str, path: str, key: tuple[str, int, str], body: dict, query: dict
    ) -> tuple[int, dict]:
        members = self.links.setdefault(key, [])
        member_coll = ASSOCIATIONS[key[2]]
        if method == "GET":
            items = [self._view(member_coll, self._get(member_coll, i)) for i in members]
            return 200, self._page(path, items, query)
        member = self._get(member_coll, int(body["id"]))
        if body.get("disassociate"):
            members.remove(member["id"])
        elif member["id"] not in members:
            self._check_credential(key, member, members)
            members.append(member["id"])
        return 204, {}

    def _check_credential(self, key: tuple[str, int, str], member: dict, members: list[int]) -> None:
        """JobTemplateCredentialsList.is_valid_relation: one credential per type, of an assignable kind."""
        if key[0] != "job_templates" or key[2] != "credentials":
            return
        ctype = self._get("credential_types", member["credential_type"])
        if ctype["kind"] not in ("ssh", "vault", "cloud", "net", "kubernetes"):
            raise ApiError(400, {"error": "Cannot assign a Credential of kind `%s`." % ctype["kind"]})
        if any(self._get("credentials", m)["credential_type"] == member["credential_type"] for m in members):
            raise ApiError(400, {"error": "Cannot assign multiple %s credentials." % ctype["name"]})

    # -- dispatch ---------------------------------------------------------------------------
    def handle(self, method: str, raw_path: str, body: Any, auth: str) -> tuple[int, Any]:
        if auth != "Bearer %s" % self.token:
            return 401, {"detail": "Authentication credentials were not provided."}
        split = urlsplit(raw_path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        parts = [p for p in split.path[len(API) :].split("/") if p]
        with self.lock:
            if method != "GET":
                self.writes.append((method, split.path))
            try:
                return self._route(method, split.path, parts, body, query)
            except ApiError as err:
                return err.status, err.body

    def _route(self, method: str, path: str, parts: list[str], body: Any, query: dict) -> tuple[int, Any]:
        if parts == ["ping"]:
            return 200, {"version": "24.6.1"}
        coll = parts[0]
        if len(parts) == 1:
            return (200, self._list(path, coll, query)) if method == "GET" else self._create(coll, body)
        oid = int(parts[1])
        if len(parts) == 3 and parts[2] == "survey_spec":
            return self._survey(method, coll, oid, body)
        if len(parts) == 3 and parts[2] == "update":
            return 202, {"url": "%sproject_updates/%d/" % (API, self._project_update(oid))}
        if len(parts) == 3:
            target = ("roles", oid, parts[2]) if coll == "roles" else (coll, oid, parts[2])
            return self._association(method, path, target, body or {}, query)
        if method == "DELETE":
            self._get(coll, oid)
            del self.objects[coll][oid]
            return 204, {}
        if method == "PATCH":
            return self._update(coll, oid, body)
        return 200, self._view(coll, self._get(coll, oid))

    def _project_update(self, project: int) -> int:
        return self._store("project_updates", {"status": "successful", "project": project, "scm_revision": "0" * 40})[
            "id"
        ]

    # -- reading back (tests) -----------------------------------------------------------------
    def named(self, coll: str, name: str) -> dict:
        return next(o for o in self.objects.get(coll, {}).values() if o.get("name") == name)

    def survey(self, coll: str, name: str) -> dict:
        return self.surveys.get((coll, self.named(coll, name)["id"]), {})

    def members(self, coll: str, name: str, role: str, kind: str = "teams") -> list[str]:
        role_id = self.named(coll, name)["summary_fields"]["object_roles"]["%s_role" % role]["id"]
        return sorted(self.objects["teams"][i]["name"] for i in self.links.get(("roles", role_id, kind), []))


def _handler(api: AwxStandin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"null") if length else None
            status, data = api.handle(self.command, self.path, body, self.headers.get("Authorization", ""))
            payload = b"" if status == 204 else json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-API-Product-Name", "AWX")
            self.send_header("X-API-Product-Version", "24.6.1")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _answer

        def log_message(self, *args: Any) -> None:
            return

    return Handler


def serve(api: AwxStandin) -> tuple[ThreadingHTTPServer, str]:
    """Start the stand-in on a free port of 127.0.0.1; returns the server and its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, "http://127.0.0.1:%d" % server.server_address[1]
