"""Spec files: shape checks, alias-bomb refusal, keys given twice, a spec in two files (no Ansible, no cluster)."""

from __future__ import annotations

import re

import pytest
import yaml

from ansible_collections.platykus.platform.plugins.module_utils._core import spec_files
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.spec_files import (
    load_spec_dir,
    load_spec_file,
    load_spec_text,
    load_specs,
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
        monkeypatch.setattr(spec_files, "_Loader", yaml.SafeLoader)
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
    monkeypatch.setattr(spec_files, "MAX_BYTES", 64)
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


# -- keys given twice --------------------------------------------------------------------------
OWNERS_TWICE = """\
name: acme
plan: small
owners:
  admin: acme-admins
  developers: acme-devs
  admin: globex-admins
"""


@pytest.mark.parametrize(
    ("text", "kind", "found"),
    [
        (OWNERS_TWICE, "tenant", ["tenants[acme].owners.admin is given twice (lines 4 and 6)"]),
        (
            "name: acme\nplan: small\nenvironments: [dev]\nplan: large\n",
            "tenant",
            ["tenants[acme].plan is given twice (lines 2 and 4)"],
        ),
        # Before the name is known, and the name itself: the path falls back to the file's name.
        ("name: acme\nname: globex\n", "tenant", ["tenants[acme].name is given twice (lines 1 and 2)"]),
        # In a list of mappings: the item's index.
        (
            "name: acme\nexternal_secrets:\n  - name: db\n    key: a\n  - name: api\n    key: b\n    key: c\n",
            "tenant",
            ["tenants[acme].external_secrets[1].key is given twice (lines 6 and 7)"],
        ),
        # Deep in an app spec, and two at once.
        (
            "name: shop\ntenant: acme\nenvironment: dev\nprocesses:\n  web:\n    port: 80\n    port: 8080\n"
            "config:\n  A: '1'\n  A: '2'\n",
            "app",
            [
                "apps[acme/dev/shop].processes.web.port is given twice (lines 6 and 7)",
                "apps[acme/dev/shop].config.A is given twice (lines 9 and 10)",
            ],
        ),
        # YAML reads 'yes' and 'true' as one key, and '2' and '0x2' as one number.
        (
            "name: acme\nflags:\n  yes: a\n  true: b\n  2: c\n  0x2: d\n",
            "tenant",
            [
                "tenants[acme].flags.True is given twice (lines 3 and 4)",
                "tenants[acme].flags.2 is given twice (lines 5 and 6)",
            ],
        ),
        # Quoted and unusual keys are shown quoted.
        (
            'name: acme\nconfig:\n  "a b": 1\n  a b: 2\n',
            "tenant",
            ["tenants[acme].config['a b'] is given twice (lines 3 and 4)"],
        ),
        # Inside an anchored mapping: reported once, at the path that first reaches it.
        (
            "name: acme\nbase: &b {cpu: '1', cpu: '2'}\nprod: *b\n",
            "tenant",
            ["tenants[acme].base.cpu is given twice (lines 2 and 2)"],
        ),
        # Two merge keys in one mapping.
        (
            "name: acme\na: &a {x: 1}\nb: &b {y: 2}\nc:\n  <<: *a\n  <<: *b\n",
            "tenant",
            ["tenants[acme].c['<<'] is given twice (lines 5 and 6)"],
        ),
        # An add-on without its identity: the file's name.
        ("type: redis\nplan: mini\nplan: large\n", "add-on", ["addons[cache].plan is given twice (lines 2 and 3)"]),
    ],
    ids=[
        "owners-admin",
        "plan",
        "name",
        "list-of-mappings",
        "app-nested",
        "resolved-keys",
        "quoted",
        "anchor",
        "two-merges",
        "no-identity",
    ],
)
def test_a_key_given_twice_is_refused_with_its_path_and_both_lines(text, kind, found):
    with pytest.raises(PlatykusError) as err:
        load_spec_text(text, "specs/cache.yml" if kind == "add-on" else "specs/acme.yml", kind)
    message = str(err.value)
    assert message.startswith("specs/")
    for problem in found:
        assert problem in message, message
    assert message.count("is given twice") == len(found), message
    assert message.endswith("YAML would keep only the last value silently: write each key once")


def test_a_key_beside_a_merge_key_overrides_the_merged_one():
    # YAML's merge rule: what the mapping writes wins over what it merges in; no duplicate.
    text = "name: acme\nbase: &base {cpu: '1', memory: 1Gi}\nprod:\n  <<: *base\n  memory: 2Gi\n"
    assert load_spec_text(text, "acme.yml")["prod"] == {"cpu": "1", "memory": "2Gi"}
    listed = "name: acme\na: &a {x: 1}\nb: &b {x: 2, y: 3}\nc:\n  <<: [*a, *b]\n"
    assert load_spec_text(listed, "acme.yml")["c"] == {"x": 1, "y": 3}


def test_the_same_key_in_different_mappings_is_fine():
    text = "name: acme\ndev: {cpu: '1'}\nprod: {cpu: '2'}\nlist: [{name: a}, {name: b}]\n"
    assert load_spec_text(text, "acme.yml")["prod"] == {"cpu": "2"}


def test_duplicates_are_found_without_expanding_aliases():
    # Many aliases of one mapping holding a duplicate: found once, in linear time.
    text = "name: x\nb: &b {k: 1, k: 2}\nl: [" + ", ".join(["*b"] * 90) + "]\n"
    with pytest.raises(PlatykusError) as err:
        load_spec_text(text, "x.yml")
    assert str(err.value).count("is given twice") == 1


# -- one spec, two files -------------------------------------------------------------------------
def test_the_same_tenant_in_two_files_names_both_files(tmp_path):
    (tmp_path / "acme.yml").write_text("name: acme\nplan: small\n")
    (tmp_path / "zz-copy.yml").write_text("# a copy\nplan: large\nname: acme\n")
    with pytest.raises(PlatykusError) as err:
        load_spec_dir(str(tmp_path))
    assert str(err.value) == (
        f"tenant 'acme' is in two files: {tmp_path / 'acme.yml'} (line 1) and {tmp_path / 'zz-copy.yml'} (line 3); "
        "keep one file per tenant"
    )


def test_the_same_app_in_two_files_names_both_and_other_environments_are_other_apps(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "shop.yml").write_text("name: shop\ntenant: acme\nenvironment: dev\n")
    (tmp_path / "shop-prod.yml").write_text("name: shop\ntenant: acme\nenvironment: prod\n")
    assert len(load_specs([str(tmp_path / "a"), str(tmp_path / "shop-prod.yml")], "app")) == 2
    (tmp_path / "copy.yml").write_text("name: shop\ntenant: acme\nenvironment: dev\n")
    with pytest.raises(
        PlatykusError, match=r"app 'acme/dev/shop' is in two files: .*/a/shop\.yml \(line 1\) and .*/copy\.yml"
    ):
        load_specs([str(tmp_path / "a"), str(tmp_path / "copy.yml")], "app")


def test_the_same_add_on_of_one_tenant_in_two_files_is_refused_across_folders(tmp_path):
    for folder in ("one", "two"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "db.yml").write_text("name: db\ntenant: acme\ntype: redis\n")
    with pytest.raises(PlatykusError, match=r"add-on 'acme/db' is in two files: .*one/db\.yml .* and .*two/db\.yml"):
        load_specs([str(tmp_path / "one"), str(tmp_path / "two")], "add-on")


def test_a_named_spec_file_that_is_missing_is_refused(tmp_path):
    with pytest.raises(PlatykusError, match=r"missing\.yml does not exist; name an existing app spec file"):
        load_specs([str(tmp_path / "missing.yml")], "app")
    assert load_specs([str(tmp_path / "no-folder")], "app") == []


def test_messages_speak_of_the_kind_of_spec():
    with pytest.raises(PlatykusError, match=r"holds a list, not an? app; write one app per file .*docs/apps\.md"):
        load_spec_text("- a\n", "shop.yml", "app")
    with pytest.raises(PlatykusError, match="put each add-on in a file of its own"):
        load_spec_text("name: a\n---\nname: b\n", "db.yml", "add-on")
