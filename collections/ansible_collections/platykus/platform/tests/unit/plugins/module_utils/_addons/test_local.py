# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local provider's SQL grants as rendered: PostgreSQL database ACLs, MariaDB grant patterns."""

from __future__ import annotations

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._addons import local


@pytest.mark.parametrize(
    "acl, holds",
    [
        (None, True),  # NULL: the default, CONNECT and TEMPORARY to PUBLIC
        (["=c/admin", "admin=CTc/admin"], True),
        (["=Tc/acme", "acme=CTc/acme"], True),
        (["admin=CTc/admin"], False),
        ([], False),
    ],
)
def test_public_holds(acl, holds):
    assert local.public_holds(acl) is holds


def test_every_connectable_database_is_closed_to_public_and_the_own_open_to_its_role():
    rows = [
        ("postgres", None),
        ("template1", ["=c/admin", "admin=CTc/admin"]),
        ("acme_db_1", ["acme_db_1=CTc/acme_db_1"]),
        ("globex_db_2", ["=Tc/globex_db_2", "globex_db_2=CTc/globex_db_2"]),
        ("initech_db_3", ["initech_db_3=CTc/initech_db_3"]),
    ]
    assert local.database_grant_fixes(rows, "acme_db_1") == [
        ("globex_db_2", "revoke-public"), ("postgres", "revoke-public"), ("template1", "revoke-public"),
    ]  # fmt: skip
    # The own database without its role's CONNECT (revoked by hand): granted back.
    assert local.database_grant_fixes([("acme_db_1", ["admin=CTc/admin"])], "acme_db_1") == [("acme_db_1", "grant-own")]
    assert local.database_grant_fixes([("acme_db_1", ['"acme_db_1"=c/admin'])], "acme_db_1") == []
    assert local.database_grant_fixes([(n, ["admin=CTc/admin"]) for n in ("postgres", "template1")], "x") == []


@pytest.mark.parametrize(
    "database, pattern",
    [("acme_db_1a2b3c4d", "acme\\_db\\_1a2b3c4d"), ("plain", "plain"), ("a%b", "a\\%b"), ("a\\b", "a\\\\b")],
)
def test_mariadb_grants_escape_the_wildcards(database, pattern):
    assert local.grant_pattern(database) == pattern


def test_mariadb_grant_fixes_keep_one_grant_on_the_own_database():
    escaped = local.grant_pattern("acme_db_1")
    assert local.grant_fixes([], "acme_db_1") == ([], True)
    assert local.grant_fixes(["acme_db_1"], "acme_db_1") == (["acme_db_1"], True)  # the wildcard grant of before
    assert local.grant_fixes([escaped], "acme_db_1") == ([], False)
    assert local.grant_fixes([escaped, "other"], "acme_db_1") == (["other"], False)
    assert local._quoted("a`b%c") == "`a``b%%c`"
