# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Loading a kubeconfig: a file that cannot be read is a PlatykusError naming the field and the fix."""

from __future__ import annotations

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.kube_connect import load_api_client


def test_a_missing_kubeconfig_names_the_field_and_the_fix(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(PlatykusError, match="kubeconfig: cannot load %s \\(context other\\)" % path) as raised:
        load_api_client(str(path), "other")
    assert raised.value.field == "kubeconfig"
    assert "set kubeconfig to a readable kubeconfig file" in str(raised.value)


def test_a_kubeconfig_without_the_context_is_refused(tmp_path):
    path = tmp_path / "config"
    path.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n", encoding="utf-8")
    with pytest.raises(PlatykusError, match="context missing"):
        load_api_client(str(path), "missing")
