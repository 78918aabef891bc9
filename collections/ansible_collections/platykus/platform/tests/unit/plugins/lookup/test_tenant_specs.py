"""The tenant_specs lookup, loaded as Ansible loads it: its options, and loader errors as lookup errors."""

from __future__ import annotations

import pytest
import yaml
from ansible.constants import config
from ansible.errors import AnsibleError, AnsibleLookupError
from ansible.parsing.dataloader import DataLoader

from ansible_collections.platykus.platform.plugins.lookup import tenant_specs


@pytest.fixture
def lookup():
    """The plugin with its documented options registered, as Ansible's plugin loader does."""
    plugin = tenant_specs.LookupModule(loader=DataLoader())
    plugin._load_name = "platykus.platform.tenant_specs"
    options = yaml.safe_load(tenant_specs.DOCUMENTATION)["options"]
    config.initialize_plugin_configuration_definitions("lookup", plugin._load_name, options)
    return plugin


def test_reads_every_directory_in_order(lookup, tmp_path):
    for directory, name in (("one", "acme"), ("two", "globex")):
        (tmp_path / directory).mkdir()
        (tmp_path / directory / f"{name}.yml").write_text(f"name: {name}\n")
    terms = [str(tmp_path / "one"), str(tmp_path / "two")]
    assert lookup.run(terms, variables={}) == [{"name": "acme"}, {"name": "globex"}]


def test_a_bad_file_fails_the_lookup_naming_it(lookup, tmp_path):
    (tmp_path / "acme.yml").write_text("- name: acme\n")
    with pytest.raises(AnsibleLookupError, match=r"Failed to read the tenant specs: .*acme\.yml holds a list"):
        lookup.run([str(tmp_path)], variables={})


def test_files_and_folders_of_apps_mix(lookup, tmp_path):
    (tmp_path / "acme").mkdir()
    (tmp_path / "acme" / "shop.yml").write_text("name: shop\ntenant: acme\nenvironment: dev\n")
    (tmp_path / "blog.yml").write_text("name: blog\ntenant: acme\nenvironment: dev\n")
    specs = lookup.run([str(tmp_path / "blog.yml"), str(tmp_path / "acme")], variables={}, kind="app")
    assert [spec["name"] for spec in specs] == ["blog", "shop"]


def test_a_duplicate_key_fails_the_lookup_with_its_path_and_lines(lookup, tmp_path):
    (tmp_path / "shop.yml").write_text("name: shop\ntenant: acme\nenvironment: dev\nimage: a:1\nimage: b:2\n")
    with pytest.raises(AnsibleLookupError) as err:
        lookup.run([str(tmp_path / "shop.yml")], variables={}, kind="app")
    assert "Failed to read the app specs: " in str(err.value)
    assert f"{tmp_path / 'shop.yml'}: apps[acme/dev/shop].image is given twice (lines 4 and 5)" in str(err.value)


def test_an_unknown_kind_is_refused(lookup, tmp_path):
    with pytest.raises(AnsibleError, match="kind"):
        lookup.run([str(tmp_path)], variables={}, kind="tenants")
