# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures shared by the cost tests: files of the repository around the collection, and the worked example."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

COST_EXAMPLE = "docs/examples/cost-worked-example.yml"


def _find(relative: str) -> Path:
    """A file of the Platykus repository (outside the collection); skip when the collection runs on its own (ansible-test)."""
    for parent in Path(__file__).resolve().parents:
        if (parent / relative).is_file():
            return parent / relative
    pytest.skip("%s is outside the collection; run pytest from the repository" % relative)


@pytest.fixture(scope="session")
def repo_file():
    """``repo_file("inventories/lab/...")``: the path of a repository file, or skip the test."""
    return _find


@pytest.fixture(scope="session")
def cost_example_data() -> dict:
    """The inputs of docs/cost.md's worked example, loaded once; read it, do not change it (use cost_example)."""
    return yaml.safe_load(_find(COST_EXAMPLE).read_text())


@pytest.fixture
def cost_example(cost_example_data) -> dict:
    """A copy of the worked example's inputs that a test may change."""
    return copy.deepcopy(cost_example_data)
