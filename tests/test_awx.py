"""AWX without an AWX server: awx/configure.yml against the stand-in API (tests/awx_standin.py, with
AWX's own survey and credential-type rules), surveys against the playbooks they feed, and the
execution environment with ansible-builder."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from awx_rules import credential_type_error, inject_credential, survey_spec_error
from awx_standin import AwxStandin, serve
from jinja2 import Environment, nodes

ROOT = Path(__file__).resolve().parent.parent
CONFIG = yaml.safe_load(re.sub(r"!unsafe ", "", (ROOT / "awx/platykus.yml").read_text()))
TOKEN = "s3cret-awx-token"
CREDENTIAL_INPUTS = {
    "Platykus lab kubeconfig": {"kubeconfig": "apiVersion: v1\nkind: Config\n"},
    "Platykus AWS": {"region": "us-east-1", "access_key_id": "AKIAEXAMPLE", "secret_access_key": "not-a-real-secret"},
}


@pytest.fixture(scope="module")
def awx() -> Iterator[tuple[AwxStandin, str]]:
    api = AwxStandin(TOKEN, ROOT)
    server, url = serve(api)
    yield api, url
    server.shutdown()


def configure(url: str, **extra: object) -> subprocess.CompletedProcess:
    extra_vars = {
        "platykus_awx_host": url,
        "platykus_awx_token": TOKEN,
        "platykus_awx_credential_inputs": CREDENTIAL_INPUTS,
        **extra,
    }
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    cmd = [str(ROOT / ".venv/bin/ansible-playbook"), "awx/configure.yml", "-e", json.dumps(extra_vars)]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_configure_creates_everything_then_changes_nothing(awx: tuple[AwxStandin, str]) -> None:
    api, url = awx
    first = configure(url)
    assert first.returncode == 0, first.stdout[-4000:]
    assert TOKEN not in first.stdout + first.stderr
    for template in CONFIG["platykus_awx_job_templates"]:
        job_template = api.named("job_templates", template["name"])
        assert job_template["playbook"] == template["playbook"]
        assert [q["variable"] for q in api.survey("job_templates", template["name"]).get("spec", [])] == [
            q["variable"] for q in template.get("survey", [])
        ]
        for team in template["teams"]:
            assert team in api.members("job_templates", template["name"], "execute")
    for ctype in CONFIG["platykus_awx_credential_types"]:
        assert api.named("credential_types", ctype["name"])["injectors"] == ctype["injectors"]
    assert {s["name"] for s in api.objects["schedules"].values()} == {
        s["name"] for s in CONFIG["platykus_awx_schedules"]
    }
    assert {s["source_path"] for s in api.objects["inventory_sources"].values()} == {
        "inventories/lab",
        "inventories/generic",
        "inventories/aws",
    }
    assert len(api.objects["workflow_job_template_nodes"]) == sum(
        len(w["nodes"]) for w in CONFIG["platykus_awx_workflows"]
    )
    assert api.members("organizations", CONFIG["platykus_awx_organization"], "admin") == ["Platykus platform admins"]
    api.writes.clear()
    second = configure(url)
    assert second.returncode == 0, second.stdout[-4000:]
    assert re.search(r"localhost\s+: ok=\d+\s+changed=0 ", second.stdout), second.stdout[-2000:]
    assert api.writes == []


def test_configure_refuses_without_a_token(awx: tuple[AwxStandin, str]) -> None:
    run = configure(awx[1], platykus_awx_token="")
    assert run.returncode != 0 and "platykus_awx_token" in run.stdout


ONBOARDING = next(t for t in CONFIG["platykus_awx_job_templates"] if t["name"] == "Platykus tenant onboarding")


def _spec(**change: object) -> dict:
    spec = {"name": "x", "description": "", "spec": copy.deepcopy(ONBOARDING["survey"])}
    spec["spec"][0].update(change)
    return spec


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"name": "x", "description": ""}, "Field 'spec' is missing from survey spec."),
        ({"name": "x", "description": "", "spec": []}, "'spec' doesn't contain any items."),
        (_spec(type="checkbox"), "'checkbox' in survey question 0 is not one of"),
        (_spec(variable=None), "'variable' in survey question 0 expected to be string."),
        (_spec(required="yes"), "'required' in survey question 0 expected to be boolean."),
        (_spec(variable="tenant_plan"), "'variable' 'tenant_plan' duplicated in survey question 1."),
        (_spec(type="integer", default="ten"), "Default value ten in survey question 0 expected to be integer."),
        (_spec(min="2"), "The min limit in survey question 0 expected to be integer."),
        (_spec(type="multiplechoice"), "Survey question 0 of type multiplechoice must specify choices."),
        (_spec(type="multiplechoice", choices=["a", "b"], default="a\nb"), "can only have one default value."),
        (
            _spec(type="multiselect", choices=["a", "b"], default="c"),
            "Default choice must be answered from the choices listed.",
        ),
        (_spec(default="$encrypted$"), "$encrypted$ is a reserved keyword for password question defaults"),
    ],
)
def test_awx_survey_rules_refuse(spec: dict, message: str) -> None:
    error = survey_spec_error(spec, None)
    assert error is not None and message in error


def test_invalid_survey_is_refused_by_the_api(awx: tuple[AwxStandin, str]) -> None:
    api, _ = awx
    auth = "Bearer " + TOKEN
    status, template = api.handle(
        "POST", "/api/v2/job_templates/", {"name": "survey check", "playbook": "site.yml"}, auth
    )
    assert status == 201, template
    endpoint = template["related"]["survey_spec"]
    status, body = api.handle("POST", endpoint, _spec(variable="tenant_plan"), auth)
    assert status == 400 and "duplicated in survey question 1" in body["error"]
    assert api.handle("GET", endpoint, None, auth) == (200, {})
    assert api.handle("POST", endpoint, _spec(), auth)[0] == 200
    assert api.handle("POST", endpoint, _spec(), "Bearer wrong")[0] == 401


def test_job_template_playbook_must_be_in_the_project(awx: tuple[AwxStandin, str]) -> None:
    status, body = awx[0].handle(
        "POST", "/api/v2/job_templates/", {"name": "x", "playbook": "nope.yml"}, "Bearer " + TOKEN
    )
    assert status == 400 and body["__all__"] == ["Playbook not found for project."]


def test_every_survey_of_the_config_is_valid() -> None:
    for template in CONFIG["platykus_awx_job_templates"]:
        if "survey" in template:
            spec = {
                "name": template["name"],
                "description": template["description"],
                "spec": copy.deepcopy(template["survey"]),
            }
            assert survey_spec_error(spec, None) is None, template["name"]


AWS = next(t for t in CONFIG["platykus_awx_credential_types"] if t["name"] == "Platykus AWS")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "ssh"}, "Must be 'cloud' or 'net', not ssh"),
        ({"injectors": {"env": {"ANSIBLE_CONFIG": "x"}}}, "may affect Ansible configuration"),
        ({"injectors": {"env": {"PATH": "x"}}}, "Environment variable PATH is not allowed"),
        ({"injectors": {"env": {"X": "{{ nope }}"}}}, "X uses an undefined field"),
        ({"injectors": {"env": {"X": "{{ tower.filename }}"}}}, "Must define unnamed file injector"),
        ({"injectors": {"file": {"template": "a", "template.b": "b"}}}, "Must use multi-file syntax"),
        ({"injectors": {"env": {"1X": "a"}}}, "injectors:"),
        ({"inputs": {"fields": [{"id": "tower", "label": "T"}]}}, '"tower" is a reserved field name'),
        (
            {"inputs": {"fields": [{"id": "a", "label": "A"}, {"id": "a", "label": "B"}]}},
            "field IDs must be unique (a)",
        ),
        (
            {"inputs": {"fields": [{"id": "a", "label": "A", "type": "boolean", "secret": True}]}},
            "secret not allowed for boolean type (a)",
        ),
        ({"inputs": {"fields": [{"id": "a", "label": "A", "default": 1}]}}, "1 is not a string"),
    ],
)
def test_awx_credential_type_rules_refuse(change: dict, message: str) -> None:
    data = dict(copy.deepcopy(AWS), **change)
    if "inputs" in change:
        data["injectors"] = {}
    error = credential_type_error(data)
    assert error is not None and message in error


def test_credential_types_of_the_config_are_valid() -> None:
    for ctype in CONFIG["platykus_awx_credential_types"]:
        assert credential_type_error(copy.deepcopy(ctype)) is None, ctype["name"]


@pytest.mark.parametrize(
    ("inputs", "expect"),
    [
        ({"access_key_id": "AKIAX", "secret_access_key": "sk"}, {"aws_access_key_id": "AKIAX", "role_arn": None}),
        (
            {"role_arn": "arn:aws:iam::1:role/p"},
            {"role_arn": "arn:aws:iam::1:role/p", "credential_source": "Ec2InstanceMetadata"},
        ),
        (
            {"role_arn": "arn:aws:iam::1:role/p", "access_key_id": "AKIAX", "secret_access_key": "sk"},
            {"role_arn": "arn:aws:iam::1:role/p", "source_profile": "platykus-keys", "aws_access_key_id": None},
        ),
    ],
)
def test_aws_credential_injects_a_profile_the_sdk_reads(
    inputs: dict, expect: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import botocore.session

    env, extra = inject_credential(AWS, dict(inputs, region="us-east-1"), str(tmp_path))
    assert extra == {} and env["AWS_REGION"] == "us-east-1"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    profile = botocore.session.Session().get_scoped_config()
    assert {k: profile.get(k) for k in expect} == expect
    assert oct(Path(env["AWS_CONFIG_FILE"]).stat().st_mode & 0o777) == "0o600"


# -- surveys against the playbooks they feed --------------------------------------------------
MAGIC = {
    "hostvars",
    "inventory_hostname",
    "playbook_dir",
    "inventory_dir",
    "item",
    "omit",
    "groups",
    "lookup",
    "dict",  # Jinja's global dict(...)
    "query",
    "q",
    "ansible_playbook_python",
}
EXPRESSION_KEYS = {"when", "that", "failed_when", "changed_when", "until"}


def _templates(node: object, key: str = "") -> Iterator[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _templates(v, str(k))
    elif isinstance(node, list):
        for v in node:
            yield from _templates(v, key)
    elif isinstance(node, str):
        yield "{{ %s }}" % node if key in EXPRESSION_KEYS else node


def _defaulted(ast: nodes.Template) -> set[str]:
    names = {f.node.name for f in ast.find_all(nodes.Filter) if f.name == "default" and isinstance(f.node, nodes.Name)}
    return names | {
        t.node.name for t in ast.find_all(nodes.Test) if t.name == "defined" and isinstance(t.node, nodes.Name)
    }


def _with_imported_tasks(play: dict, folder: Path) -> dict:
    """The play with the tasks of its import_tasks files in place (they read and set variables too)."""
    tasks = []
    for task in play.get("tasks", []):
        target = task.get("ansible.builtin.import_tasks") or task.get("import_tasks")
        tasks += yaml.safe_load((folder / target).read_text()) if target else [task]
    return dict(play, tasks=tasks) if "tasks" in play else play


def _names(ast: nodes.Template) -> set[str]:
    """Names a template reads (loop targets and {% set %} excluded); filters need not be known."""
    stored = {n.name for n in ast.find_all(nodes.Name) if n.ctx in ("store", "param")}
    return {n.name for n in ast.find_all(nodes.Name) if n.ctx == "load"} - stored


def _flat_tasks(tasks: list[dict]) -> Iterator[dict]:
    """Each task, and the tasks inside its block, rescue and always (they register variables too)."""
    for task in tasks:
        yield task
        for key in ("block", "rescue", "always"):
            yield from _flat_tasks(task.get(key) or [])


def _declared(plays: list[dict]) -> set[str]:
    """Play vars, registered, set_fact and loop variable names: the playbook sets these itself."""
    names: set[str] = set()
    for play in plays:
        names |= set(play.get("vars", {}))
        for path in play.get("vars_files", []):
            names |= set(yaml.safe_load((ROOT / "playbooks" / path).read_text()) or {})
        for task in _flat_tasks(play.get("tasks", []) + play.get("pre_tasks", [])):
            names |= {task.get("register")} - {None}
            names |= set(task.get("ansible.builtin.set_fact", {}) or {}) | set(task.get("vars", {}))
            names |= {(task.get("loop_control") or {}).get("loop_var", "item")}
    return names


def playbook_variables(playbook: Path) -> tuple[set[str], set[str]]:
    """(every variable the playbook and the playbooks it imports read, those read without a default)."""
    plays = [_with_imported_tasks(play, playbook.parent) for play in yaml.safe_load(playbook.read_text())]
    read, required = set(), set()
    for play in plays:
        target = play.get("ansible.builtin.import_playbook") or play.get("import_playbook")
        if target:
            more = playbook_variables((playbook.parent / target).resolve())
            read, required = read | more[0], required | more[1]
    env = Environment()
    for text in _templates([{k: v for k, v in p.items() if k not in ("name", "roles")} for p in plays]):
        ast = env.parse(text)
        found = _names(ast)
        read |= found
        required |= found - _defaulted(ast)
    declared = _declared(plays)
    defaults = {n for p in plays for n in p.get("vars", {})}  # play vars are defaults a survey answer overrides
    known = MAGIC | inventory_variables()
    return (read - known - declared) | defaults, {
        v for v in required - declared - known if not v.startswith("ansible_")
    }


def inventory_variables() -> set[str]:
    """What the inventories give: their group_vars/all and the shared vars/ (the shared_defaults plugin)."""
    names: set[str] = set()
    for path in [*ROOT.glob("inventories/*/group_vars/all/*.yml"), *ROOT.glob("vars/*.yml")]:
        names |= set(yaml.safe_load(path.read_text()) or {})
    return names


@pytest.mark.parametrize("template", CONFIG["platykus_awx_job_templates"], ids=lambda t: t["name"])
def test_survey_asks_what_the_playbook_reads(template: dict) -> None:
    read, required = playbook_variables(ROOT / template["playbook"])
    asked = {q["variable"] for q in template.get("survey", [])}
    given = asked | set(template.get("extra_vars", {})) | set(CONFIG["platykus_awx_job_extra_vars"])
    assert asked <= read, "survey variables no playbook reads: %s" % sorted(asked - read)
    assert required <= given, "read without a default and not asked: %s" % sorted(required - given)


def test_every_readme_job_has_a_template() -> None:
    playbooks = {t["playbook"] for t in CONFIG["platykus_awx_job_templates"]}
    jobs = re.findall(
        r"^\| [^|]+ \| `ansible-playbook [^`]*?((?:playbooks/)?[\w-]+\.yml)", (ROOT / "README.md").read_text(), re.M
    )
    assert jobs, "no job found in the README's job table"
    missing = set(jobs) - playbooks
    assert not missing, "README jobs without a job template in awx/platykus.yml: %s" % sorted(missing)


# Jobs that make no sense in AWX: app-credentials.yml writes tenant kubeconfigs to local files, which
# vanish with the job; in AWX a tenant's identity is a "Platykus tenant kubeconfig" credential.
NOT_AWX_JOBS = {"playbooks/app-credentials.yml"}


def test_every_job_playbook_has_a_template() -> None:
    site = {p.get("ansible.builtin.import_playbook") for p in yaml.safe_load((ROOT / "site.yml").read_text())}
    jobs = {"playbooks/%s" % p.name for p in (ROOT / "playbooks").glob("*.yml")} - site - NOT_AWX_JOBS
    missing = jobs - {t["playbook"] for t in CONFIG["platykus_awx_job_templates"]}
    assert not missing, "playbooks without a job template in awx/platykus.yml: %s" % sorted(missing)


# -- the execution environment ------------------------------------------------------------------
def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\[\]-]+?)(\[[^\]]*\])?==(\S+)", line.strip())
        if match:
            pins[match.group(1).lower().replace("_", "-")] = match.group(3)
    return pins


@pytest.mark.slow
def test_ansible_builder_creates_the_context_offline(tmp_path: Path) -> None:
    env = dict(
        os.environ, PIP_NO_INDEX="1", no_proxy="*", HTTP_PROXY="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9"
    )
    cmd = [
        str(ROOT / ".venv/bin/ansible-builder"),
        "create",
        "-f",
        "execution-environment.yml",
        "-c",
        str(tmp_path / "context"),
        "--output-filename",
        "Containerfile",
    ]
    run = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    containerfile = (tmp_path / "context/Containerfile").read_text()
    assert "ansible-galaxy" in containerfile or "_build" in containerfile
    assert (tmp_path / "context/_build/requirements.txt").exists()


# The collections the EE carries: the in-tree one and those of the ansible bundle the playbooks use.
EE_COLLECTIONS = ("platykus/platform", "kubernetes/core", "amazon/aws", "community/aws", "awx/awx")


@pytest.mark.slow
def test_introspected_dependencies_are_pinned(tmp_path: Path) -> None:
    site = next((ROOT / ".venv/lib").glob("python3*/site-packages"))
    for name in EE_COLLECTIONS:
        source = ROOT / "collections" if name.startswith("platykus") else site
        (tmp_path / "ansible_collections" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "ansible_collections" / name).symlink_to(source / "ansible_collections" / name)
    cmd = [str(ROOT / ".venv/bin/ansible-builder"), "introspect", str(tmp_path)]
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    python = yaml.safe_load(run.stdout[run.stdout.index("python:") :].split("\nsystem:")[0])["python"]
    names = {re.split(r"[<>=!~ ;\[#]", line.strip(), maxsplit=1)[0].lower().replace("_", "-") for line in python}
    unpinned = sorted(n for n in names if n and n not in _pins())
    assert not unpinned, "introspected Python dependencies not pinned in requirements.txt: %s" % unpinned
