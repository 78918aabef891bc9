"""AWX's own validation rules for surveys and credential types, ported for the stand-in API.

No AWX server can run here (it ships as images and an operator), so tests/awx_standin.py holds the
rules AWX applies when it stores these objects, ported from AWX's source (ansible/awx, 24.x):

- ``survey_spec_error``: ``JobTemplateSurveySpec._validate_spec_data`` in awx/api/views/__init__.py
  (what POST /api/v2/job_templates/N/survey_spec/ refuses, with AWX's own messages).
- ``credential_type_error``: ``CredentialTypeInputField`` and ``CredentialTypeInjectorField`` in
  awx/main/fields.py (their JSON schemas and ``validate``), ``ENV_BLOCKLIST`` in awx/main/constants.py,
  and ``CredentialTypeSerializer.validate`` (custom types are ``cloud`` or ``net``).
- ``inject_credential``: ``CredentialType.inject_credential`` in awx/main/models/credential.py — how a
  job gets a credential: env vars, extra vars and files rendered from the injector templates.

Each function returns AWX's error message, or None when AWX would accept the data.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import jsonschema
from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

ENCRYPTED = "$encrypted$"
SURVEY_TYPES: dict[str, type | tuple[type, ...]] = {
    "text": str,
    "textarea": str,
    "password": str,
    "multiplechoice": str,
    "multiselect": str,
    "integer": int,
    "float": float,
}
ENV_BLOCKLIST = frozenset(
    (
        "VIRTUAL_ENV", "PATH", "PYTHONPATH", "JOB_ID", "INVENTORY_ID", "INVENTORY_SOURCE_ID", "INVENTORY_UPDATE_ID",
        "AD_HOC_COMMAND_ID", "REST_API_URL", "REST_API_TOKEN", "MAX_EVENT_RES", "CALLBACK_QUEUE", "CALLBACK_CONNECTION",
        "CACHE", "JOB_CALLBACK_DEBUG", "INVENTORY_HOSTVARS", "AWX_HOST", "PROJECT_REVISION", "SUPERVISOR_CONFIG_PATH",
    )
)  # fmt: skip
_NAME = "^[a-zA-Z_]+[a-zA-Z0-9_]*$"
INPUTS_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "required": {"type": "array", "items": {"type": "string"}},
        "fields": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "type": {"enum": ["string", "boolean"]},
                    "format": {"enum": ["ssh_private_key", "url"]},
                    "choices": {"type": "array", "minItems": 1, "items": {"type": "string"}, "uniqueItems": True},
                    "id": {"type": "string", "pattern": _NAME},
                    "label": {"type": "string"},
                    "help_text": {"type": "string"},
                    "multiline": {"type": "boolean"},
                    "secret": {"type": "boolean"},
                    "ask_at_runtime": {"type": "boolean"},
                    "default": {},
                },
                "additionalProperties": False,
                "required": ["id", "label"],
            },
        },
    },
}
INJECTORS_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "file": {
            "type": "object",
            "patternProperties": {r"^template(\.[a-zA-Z_]+[a-zA-Z0-9_]*)?$": {"type": "string"}},
            "additionalProperties": False,
        },
        "env": {
            "type": "object",
            "patternProperties": {_NAME: {"type": "string", "pattern": "^[\x00-\x7f]*$"}},
            "additionalProperties": False,
        },
        "extra_vars": {
            "type": "object",
            "patternProperties": {_NAME: {"type": "string"}},
            "additionalProperties": False,
        },
    },
}


def _spec_shape_error(spec: Any) -> str | None:
    """The top-level fields: name, description (strings) and spec (a non-empty list)."""
    if not isinstance(spec, dict):
        return "Survey spec is not a json object."
    error = None
    for field, expect, label in (
        ("name", str, "string"),
        ("description", str, "string"),
        ("spec", list, "list of items"),
    ):
        if field not in spec:
            error = "Field '%s' is missing from survey spec." % field
        elif not isinstance(spec[field], expect):
            error = "Expected %s for field '%s', received %s type." % (label, field, type(spec[field]).__name__)
    if isinstance(spec.get("spec"), list) and len(spec["spec"]) < 1:
        error = "'spec' doesn't contain any items."
    return error


def _item_fields_error(idx: int, item: Any) -> str | None:
    """type, question_name and variable are strings, required a boolean."""
    if not isinstance(item, dict):
        return "Survey question %s is not a json object." % idx
    for field in ("type", "question_name", "variable", "required"):
        if field not in item:
            return "'%s' missing from survey question %s" % (field, idx)
        allowed, label = (bool, "boolean") if field == "required" else (str, "string")
        if not isinstance(item[field], allowed):
            return "'%s' in survey question %s expected to be %s." % (field, idx, label)
    return None


def _item_type_error(idx: int, item: dict) -> str | None:
    """The question type is known, the default has its type, min/max are integers."""
    qtype = item["type"]
    if qtype not in SURVEY_TYPES:
        return "'%s' in survey question %s is not one of '%s' allowed question types." % (
            qtype, idx, ", ".join(SURVEY_TYPES),
        )  # fmt: skip
    default = item.get("default", "")
    # multiselect defaults may be lists; AWX checks them against the choices below.
    if (
        default != ""
        and not isinstance(default, SURVEY_TYPES[qtype])
        and not (qtype == "multiselect" and isinstance(default, list))
    ):
        label = qtype if qtype in ("integer", "float") else "string"
        return "Default value %s in survey question %s expected to be %s." % (default, idx, label)
    for key in ("min", "max"):
        if item.get(key) is not None and not isinstance(item[key], int):
            return "The %s limit in survey question %s expected to be integer." % (key, idx)
    return None


def _split(value: Any) -> Any:
    """AWX keeps choices and defaults given as text one per line, blank lines dropped."""
    return "\n".join(c for c in value.splitlines() if c.strip() != "") if isinstance(value, str) else value


def _item_choices_error(idx: int, item: dict) -> str | None:
    """Choice questions list their choices; defaults are among them (one for multiplechoice)."""
    if item["type"] not in ("multiselect", "multiplechoice"):
        return None
    if "choices" not in item:
        return "Survey question %s of type %s must specify choices." % (idx, item["type"])
    item["choices"] = _split(item["choices"])
    if "default" not in item:
        return None
    item["default"] = _split(item["default"])
    defaults = item["default"].splitlines() if isinstance(item["default"], str) else item["default"]
    if item["type"] == "multiplechoice" and len(defaults) > 1:
        return "Multiple Choice (Single Select) can only have one default value."
    if any(d not in item["choices"] for d in defaults):
        return "Default choice must be answered from the choices listed."
    return None


def _item_password_error(idx: int, item: dict, old_items: dict[str, dict]) -> str | None:
    """$encrypted$ only keeps a password question's stored default; a new one is stored encrypted."""
    default = item.get("default")
    if isinstance(default, str) and default.startswith(ENCRYPTED):
        if item["type"] != "password":
            return "$encrypted$ is a reserved keyword for password question defaults, survey question %s is type %s." % (
                idx, item["type"],
            )  # fmt: skip
        old = old_items.get(item["variable"], {}).get("default")
        if not (isinstance(old, str) and (old.startswith(ENCRYPTED) or old == "")):
            return "$encrypted$ is a reserved keyword, may not be used for new default in position %s." % idx
        item["default"] = old
    elif item["type"] == "password" and "default" in item:
        item["default"] = ENCRYPTED + "stored:" + str(default)
    return None


def survey_spec_error(new_spec: Any, old_spec: dict | None) -> str | None:
    """AWX's JobTemplateSurveySpec._validate_spec_data; normalizes ``new_spec`` in place as AWX does."""
    error = _spec_shape_error(new_spec)
    if error:
        return error
    old_items = {i.get("variable"): i for i in (old_spec or {}).get("spec", []) if isinstance(i, dict)}
    variables: set[str] = set()
    for idx, item in enumerate(new_spec["spec"]):
        error = _item_fields_error(idx, item)
        if error:
            return error
        if item["variable"] in variables:
            return "'variable' '%s' duplicated in survey question %s." % (item["variable"], idx)
        variables.add(item["variable"])
        error = (
            _item_type_error(idx, item) or _item_choices_error(idx, item) or _item_password_error(idx, item, old_items)
        )
        if error:
            return error
    return None


def display_survey(spec: dict) -> dict:
    """What GET survey_spec shows: password defaults as $encrypted$ (JobTemplate.display_survey_spec)."""
    items = [
        dict(i, default=ENCRYPTED) if i.get("type") == "password" and "default" in i else i
        for i in spec.get("spec", [])
    ]
    return dict(spec, spec=items) if spec else {}


def _inputs_error(inputs: Any) -> str | None:
    """CredentialTypeInputField: the schema, unique ids, no 'tower', typed defaults, string-only keys."""
    try:
        jsonschema.validate(inputs, INPUTS_SCHEMA)
    except jsonschema.ValidationError as err:
        return "inputs: %s" % err.message
    ids: set[str] = set()
    for field in inputs.get("fields", []):
        if field["id"] == "tower":
            return '"tower" is a reserved field name'
        if field["id"] in ids:
            return "field IDs must be unique (%s)" % field["id"]
        ids.add(field["id"])
        ftype = field.setdefault("type", "string")
        if "default" in field and type(field["default"]) is not {"string": str, "boolean": bool}[ftype]:
            return "%s is not a %s" % (field["default"], ftype)
        for key in ("choices", "multiline", "format", "secret"):
            if key in field and ftype != "string":
                return "%s not allowed for %s type (%s)" % (key, ftype, field["id"])
    return None


class _Filenames:
    """``tower.filename`` in a validation render: one name per declared file template."""

    def __init__(self, names: list[str]) -> None:
        for name in names:
            setattr(self, name, "EXAMPLE_FILENAME")

    def __str__(self) -> str:
        raise UndefinedError("Must define unnamed file injector in order to reference `tower.filename`.")


class _Tower:
    def __init__(self, filename: Any) -> None:
        self.filename = filename

    def __str__(self) -> str:
        raise UndefinedError("Cannot directly reference reserved `tower` namespace container.")


def _injector_namespace(inputs: dict, injectors: dict) -> dict[str, Any] | str:
    names = [k for k in injectors.get("file", {}) if k.startswith("template")]
    if "template" in names and len(names) > 1:
        return "Must use multi-file syntax when injecting multiple files"
    filename: Any = "EXAMPLE_FILENAME" if "template" in names else _Filenames([n.split(".", 1)[1] for n in names])
    namespace: dict[str, Any] = {f["id"]: "EXAMPLE" for f in inputs.get("fields", [])}
    namespace["tower"] = _Tower(filename)
    return namespace


def _render_error(kind: str, key: str, template: str, namespace: dict) -> str | None:
    try:
        ImmutableSandboxedEnvironment(undefined=StrictUndefined).from_string(template).render(namespace)
    except UndefinedError as err:
        return "%s uses an undefined field (%s)" % (key, err)
    except SecurityError as err:
        return "Encountered unsafe code execution: %s" % err
    except TemplateSyntaxError as err:
        return "Syntax error rendering template for %s inside of %s (%s)" % (key, kind, err)
    return None


def _injectors_error(injectors: Any, inputs: dict) -> str | None:
    """CredentialTypeInjectorField: the schema, allowed env vars, templates naming only defined fields."""
    try:
        jsonschema.validate(injectors, INJECTORS_SCHEMA)
    except jsonschema.ValidationError as err:
        return "injectors: %s" % err.message
    namespace = _injector_namespace(inputs, injectors)
    if isinstance(namespace, str):
        return namespace
    for env_var in injectors.get("env", {}):
        if env_var.startswith("ANSIBLE_"):
            return (
                "Environment variable %s may affect Ansible configuration so its use is not allowed in credentials."
                % env_var
            )
        if env_var in ENV_BLOCKLIST:
            return "Environment variable %s is not allowed to be used in credentials." % env_var
    for kind, injector in injectors.items():
        for key, template in injector.items():
            error = _render_error(kind, key, template, namespace)
            if error:
                return error
    return None


def credential_type_error(data: dict) -> str | None:
    """A custom credential type as AWX would store it, or AWX's reason to refuse it."""
    if data.get("kind") not in ("cloud", "net"):
        return "Must be 'cloud' or 'net', not %s" % data.get("kind")
    inputs, injectors = data.get("inputs") or {}, data.get("injectors") or {}
    if isinstance(inputs, dict) and "dependencies" in inputs:
        return "'dependencies' is not supported for custom credentials."
    return _inputs_error(inputs) or _injectors_error(injectors, inputs)


def credential_inputs_error(ctype: dict, inputs: dict) -> str | None:
    """CredentialInputField: only declared fields, the required ones given."""
    fields = {f["id"] for f in ctype["inputs"].get("fields", [])}
    unknown = sorted(set(inputs) - fields)
    if unknown:
        return "inputs: Additional properties are not allowed (%s)" % ", ".join(unknown)
    missing = [f for f in ctype["inputs"].get("required", []) if inputs.get(f) in (None, "")]
    return "inputs: %s: required for %s" % (missing[0], ctype["name"]) if missing else None


def inject_credential(ctype: dict, inputs: dict, private_dir: str) -> tuple[dict[str, str], dict[str, str]]:
    """CredentialType.inject_credential: (env, extra_vars) from the injectors; files go under private_dir."""
    namespace: dict[str, Any] = dict(inputs)
    for field in ctype["inputs"].get("fields", []):
        if field.get("type") == "boolean" and field["id"] not in inputs:
            namespace[field["id"]] = False
    sandbox = ImmutableSandboxedEnvironment()
    files = ctype["injectors"].get("file", {})
    paths: dict[str, str] = {}
    for name, template in files.items():
        fd, path = tempfile.mkstemp(prefix="awx_", dir=private_dir)
        with os.fdopen(fd, "w") as handle:
            handle.write(sandbox.from_string(template).render(**namespace))
        os.chmod(path, 0o600)
        paths[name] = path
    filename: Any = paths.get("template") or type("F", (), {n.split(".", 1)[1]: p for n, p in paths.items()})()
    namespace["tower"] = type("T", (), {"filename": filename})()
    env = {k: sandbox.from_string(v).render(**namespace) for k, v in ctype["injectors"].get("env", {}).items()}
    extra = {k: sandbox.from_string(v).render(**namespace) for k, v in ctype["injectors"].get("extra_vars", {}).items()}
    return env, extra
