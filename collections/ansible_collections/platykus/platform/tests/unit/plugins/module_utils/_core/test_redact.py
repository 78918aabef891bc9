# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._core.redact import (
    redact_text,
    redact_url,
    split_userinfo,
    url_secrets,
)


@pytest.mark.parametrize(
    "url, shown",
    [
        ("https://user:secret@prom.example.com:9090/x?y=1", "https://***@prom.example.com:9090/x?y=1"),
        ("http://token@prom:9090", "http://***@prom:9090"),
        ("http://u:p@ss@prom:9090/", "http://***@prom:9090/"),  # an unescaped @ in the password: hidden whole
        ("http://prom:9090/api?q=a@b", "http://prom:9090/api?q=a@b"),  # an @ after the host is not userinfo
        ("http://prom:9090", "http://prom:9090"),
        (None, ""),
    ],
)
def test_redact_url(url, shown):
    assert redact_url(url) == shown


def test_redact_text_finds_every_url():
    text = "GET http://a:b@one/x failed, then https://c:d@two:443 refused; mailto:x@y stays"
    assert redact_text(text) == "GET http://***@one/x failed, then https://***@two:443 refused; mailto:x@y stays"


@pytest.mark.parametrize(
    "url, expected",
    [
        ("http://prom:9090/", ("http://prom:9090/", None, None)),
        ("https://rep%40orter:p%3Ass@prom:9090/base", ("https://prom:9090/base", "rep@orter", "p:ss")),
        ("http://u:p@ss@prom", ("http://prom", "u", "p@ss")),
        ("http://user@prom", ("http://prom", "user", None)),
    ],
)
def test_split_userinfo(url, expected):
    assert split_userinfo(url) == expected


def test_url_secrets_are_the_password_as_written_and_decoded():
    assert url_secrets("http://u:p%3Ass@prom") == ["p%3Ass", "p:ss"]
    assert url_secrets("http://u@prom") == []
    assert url_secrets(None) == []
