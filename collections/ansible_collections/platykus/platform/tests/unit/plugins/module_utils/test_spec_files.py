"""Tenant spec files: shape checks and alias-bomb refusal (no Ansible, no cluster)."""

from __future__ import annotations

import re

import pytest
import yaml

from ansible_collections.platykus.platform.plugins.module_utils import _spec_files
from ansible_collections.platykus.platform.plugins.module_utils._errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._spec_files import (
    load_spec_dir,
    load_spec_file,
    load_spec_text,
)


def laughs(levels: int, width: int = 10) -> str:
    """A 'billion laughs' spec: ``width ** levels`` nodes once expanded, from a few lines."""
    lines = ["name: mallory", 'l0: &l0 ["lol"]']
    for level in range(1, levels + 1):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


@pytest.fixture(params=["libyaml", "python"], autouse=True)
def loader(request, monkeypatch):
    """Every test runs with libyaml's composer and with PyYAML's pure-Python one."""
    if request.param == "python":
        monkeypatch.setattr(_spec_files, "_Loader", yaml.SafeLoader)
    elif not hasattr(yaml, "CSafeLoader"):
        pytest.skip("PyYAML without libyaml")
    return request.param


def test_a_spec_loads_as_a_dict():
    text = "name: acme\nplan: small\nenvironments: [dev, prod]\nbudget: {monthly: 2500, currency: EUR}\n"
    assert load_spec_text(text, "acme.yml") == {
        "name": "acme",
        "plan": "small",
        "environments": ["dev", "prod"],
        "budget": {"monthly": 2500, "currency": "EUR"},
    }


def test_a_few_anchors_are_fine():
    text = "name: acme\nbase: &base {cpu: '1'}\nprod:\n  <<: *base\n  memory: 2Gi\ndev: *base\n"
    assert load_spec_text(text, "acme.yml")["prod"] == {"cpu": "1", "memory": "2Gi"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (laughs(9), "its aliases (*name) expand it past 10000 YAML nodes"),  # 10^9 nodes
        (laughs(6), "its aliases (*name) expand it past 10000 YAML nodes"),  # 10^6 nodes
        ("name: x\na: &a 1\nb: [" + ", ".join(["*a"] * 101) + "]\n", "more than 100 alias uses"),
        ("name: x\nloop: &a [*a]\n", "an alias refers to the node that holds it"),
        ("name: x\ndeep: " + "[" * 100 + "]" * 100 + "\n", "nested deeper than 64 levels"),
    ],
    ids=["billion-laughs", "million-laughs", "many-aliases", "recursive", "deep"],
)
def test_alias_bombs_are_refused_before_expansion(text, message):
    # Would take minutes and gigabytes if anything expanded the aliases; returns at once.
    with pytest.raises(PlatykusError, match=re.escape(message)) as err:
        load_spec_text(text, "tenants/mallory.yml")
    assert str(err.value).startswith("tenants/mallory.yml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty; write one tenant per file as a mapping"),
        ("# only a comment\n", "is empty"),
        ("---\n", "is empty"),
        ("{}\n", "holds an empty mapping"),
        ("- name: acme\n- name: globex\n", "holds a list, not a tenant; write one tenant per file"),
        ("acme\n", "holds a single value ('acme'), not a tenant"),
        (
            "name: acme\n---\nname: globex\n",
            "holds more than one YAML document (separated by '---'); put each tenant in a file",
        ),
        ("name: [acme\n", "is not valid YAML: "),
        ("name: !!python/object/apply:os.system [id]\n", "is not valid YAML: could not determine a constructor"),
    ],
    ids=[
        "empty",
        "comment",
        "document-marker",
        "empty-mapping",
        "list",
        "scalar",
        "two-documents",
        "syntax",
        "python-tag",
    ],
)
def test_a_file_must_hold_one_non_empty_mapping(text, message):
    with pytest.raises(PlatykusError) as err:
        load_spec_text(text, "tenants/acme.yml")
    assert str(err.value).startswith("tenants/acme.yml"), err.value
    assert message in str(err.value)


def test_files_larger_than_any_spec_are_refused_unread(tmp_path, monkeypatch):
    monkeypatch.setattr(_spec_files, "MAX_BYTES", 64)
    path = tmp_path / "big.yml"
    path.write_text("name: big\nnote: " + "x" * 100 + "\n")
    with pytest.raises(PlatykusError, match=r"big\.yml is larger than 0 KiB"):
        load_spec_file(str(path))


def test_non_utf8_is_named(tmp_path):
    path = tmp_path / "latin.yml"
    path.write_bytes("name: caf\u00e9\n".encode("latin-1"))
    with pytest.raises(PlatykusError, match=r"latin\.yml is not UTF-8 text"):
        load_spec_file(str(path))


def test_a_directory_loads_in_file_name_order_and_ignores_other_files(tmp_path):
    (tmp_path / "b.yml").write_text("name: beta\n")
    (tmp_path / "a.yml").write_text("name: alpha\n")
    (tmp_path / "README.md").write_text("# not a spec\n")
    assert [spec["name"] for spec in load_spec_dir(str(tmp_path))] == ["alpha", "beta"]


def test_a_missing_directory_holds_no_tenants(tmp_path):
    assert load_spec_dir(str(tmp_path / "tenants")) == []


def test_a_file_is_not_a_directory(tmp_path):
    (tmp_path / "tenants").write_text("name: x\n")
    with pytest.raises(PlatykusError, match="is not a directory"):
        load_spec_dir(str(tmp_path / "tenants"))


def test_every_bad_file_is_listed_at_once(tmp_path):
    (tmp_path / "a.yml").write_text("name: alpha\n")
    (tmp_path / "b.yml").write_text("")
    (tmp_path / "c.yml").write_text(laughs(9))
    with pytest.raises(PlatykusError) as err:
        load_spec_dir(str(tmp_path))
    lines = str(err.value).splitlines()
    assert lines[0] == "2 bad tenant spec files:"
    assert lines[1].startswith(f"- {tmp_path / 'b.yml'} is empty")
    assert lines[2].startswith(f"- {tmp_path / 'c.yml'}: its aliases")
