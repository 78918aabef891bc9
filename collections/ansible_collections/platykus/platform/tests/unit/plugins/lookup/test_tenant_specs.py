"""The tenant_specs lookup: a thin wrapper that turns loader errors into lookup errors."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleLookupError
from ansible.parsing.dataloader import DataLoader

from ansible_collections.platykus.platform.plugins.lookup.tenant_specs import LookupModule


def run(*terms: str) -> list:
    return LookupModule(loader=DataLoader()).run(list(terms), variables={})


def test_reads_every_directory_in_order(tmp_path):
    for directory, name in (("one", "acme"), ("two", "globex")):
        (tmp_path / directory).mkdir()
        (tmp_path / directory / f"{name}.yml").write_text(f"name: {name}\n")
    assert run(str(tmp_path / "one"), str(tmp_path / "two")) == [{"name": "acme"}, {"name": "globex"}]


def test_a_bad_file_fails_the_lookup_naming_it(tmp_path):
    (tmp_path / "acme.yml").write_text("- name: acme\n")
    with pytest.raises(AnsibleLookupError, match=r"Failed to read the tenant specs: .*acme\.yml holds a list"):
        run(str(tmp_path))
