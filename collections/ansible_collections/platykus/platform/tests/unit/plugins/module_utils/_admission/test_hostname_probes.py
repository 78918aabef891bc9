# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the audit tries against the hostname policy: attacks shaped to be refused by it alone,
spelling tricks the validator refuses too, controls naming own hosts only."""

from __future__ import annotations

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._admission.hostname_probes import (
    FOREIGN_HOST,
    _spelling_tricks,
    hostname_attacks,
    hostname_controls,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.domains import covered, hostname_problem
from ansible_collections.platykus.platform.plugins.module_utils._core.names import AUDIT_LABEL

OWN = "acme.apps.example.com"


@pytest.mark.parametrize("what,host", _spelling_tricks(OWN))
def test_the_validator_refuses_the_spelling_tricks_the_audit_tries(what, host):
    assert hostname_problem(host, wildcard=True) is not None or not covered(host, [OWN]), what


@pytest.mark.parametrize("host", ["shop.%s" % OWN, "*.%s" % OWN, OWN])
def test_the_validator_accepts_own_hosts(host):
    assert hostname_problem(host, wildcard=True) is None and covered(host, [OWN])


def test_attacks_are_dry_run_shaped_and_name_no_own_host_alone():
    attacks = hostname_attacks("acme-dev", [OWN])
    whats = [what for what, _obj in attacks]
    assert len(whats) == len(set(whats))
    for what, obj in attacks:
        meta = obj["metadata"]
        assert meta["namespace"] == "acme-dev" and meta["generateName"] and meta["labels"] == {AUDIT_LABEL: "true"}, (
            what
        )
    kinds = {obj["kind"] for _w, obj in attacks}
    assert kinds >= {"Certificate", "CertificateRequest", "Ingress", "Service", "Pod", "Gateway", "HTTPRoute"}
    assert any(FOREIGN_HOST in str(obj) for _w, obj in attacks)


def test_attacks_without_domains_still_render():
    assert hostname_attacks("x", [])


def test_controls_are_own_names_only():
    controls = hostname_controls("acme-dev", [OWN])
    assert controls and not any(FOREIGN_HOST in str(obj) for _w, obj in controls)
    assert hostname_controls("acme-dev", []) == []
