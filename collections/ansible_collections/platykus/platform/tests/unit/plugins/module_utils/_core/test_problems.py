# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The validation kit on its own: problems collected with their field paths, raised once."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.problems import (
    Problems,
    check_keys,
    check_quantity,
    dns_label_problem,
    is_mapping,
    label_key_problem,
    label_value_problem,
)


def test_nothing_to_raise_when_nothing_was_found():
    problems = Problems()
    problems.raise_if_any("the spec")
    problems.raise_on_one_line("Invalid inventory")


def test_one_problem_is_raised_as_itself_naming_its_field():
    problems = Problems()
    problems.add("tenants[acme].plan", "'xl' is not in plans (small); pick one of them")
    with pytest.raises(PlatykusError) as err:
        problems.raise_if_any("the tenant specs")
    assert str(err.value) == "tenants[acme].plan: 'xl' is not in plans (small); pick one of them"
    assert err.value.field == "tenants[acme].plan"


def test_several_problems_are_listed_and_the_first_field_named():
    problems = Problems()
    problems.add("a", "is wrong")
    problems.add("b.c", "is wrong too")
    with pytest.raises(PlatykusError) as err:
        problems.raise_if_any("the spec")
    assert str(err.value) == "2 problems in the spec:\n- a: is wrong\n- b.c: is wrong too"
    assert err.value.field == "a"


def test_problems_on_one_line_follow_the_lead():
    problems = Problems()
    problems.add("x", "bad")
    problems.add("y", "worse")
    with pytest.raises(PlatykusError, match=r"^Invalid inventory: x: bad; y: worse$"):
        problems.raise_on_one_line("Invalid inventory")


def test_unknown_keys_name_the_closest_allowed_one():
    problems = Problems()
    check_keys(problems, "spec", {"plna": "small", "name": "acme"}, ("name", "plan"))
    assert problems.items == [("spec.plna", "spec.plna: unknown key; did you mean plan? allowed keys are name, plan")]


@pytest.mark.parametrize("value, good", [({}, True), ({"a": 1}, True), ([], False), ("x", False), (None, False)])
def test_a_mapping_or_a_problem_with_an_example(value, good):
    problems = Problems()
    assert is_mapping(problems, "network", value, "{allow_from_ingress: true}") is good
    assert bool(problems.items) is not good
    if not good:
        assert problems.items[0][1] == "network: %r is not a mapping; write it like {allow_from_ingress: true}" % (
            value,
        )


def test_a_quantity_or_a_problem_at_its_path():
    problems = Problems()
    assert check_quantity(problems, "size", "512Mi") == Decimal(512 * 2**20)
    assert check_quantity(problems, "size", "lots") is None
    assert check_quantity(problems, "size", "1e99") is None
    assert [item[0] for item in problems.items] == ["size", "size"]
    assert problems.items[0][1].startswith("size: 'lots' is not a Kubernetes quantity")
    assert "larger than Kubernetes can store" in problems.items[1][1]


def test_names_and_labels():
    assert dns_label_problem("acme", 10) is None
    assert "at most 3" in dns_label_problem("acme", 3)
    assert "DNS-1123" in dns_label_problem("Acme", 10)
    assert "not a name" in dns_label_problem(None, 10)
    assert label_key_problem("example.com/team") is None
    assert "invalid prefix" in label_key_problem("Example_com/team")
    assert label_value_problem("") is None
    assert "at most 63" in label_value_problem("x" * 64)
