# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ACM certificate request on moto (in-process, no network): create, modify tags, delete,
each in check mode, for real and again."""

from __future__ import annotations

import pytest

from ansible_collections.platykus.platform.plugins.module_utils._aws.acm import (
    ensure_certificate,
    idempotency_token,
    validate_request,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError

boto3 = pytest.importorskip("boto3")
moto = pytest.importorskip("moto")

DOMAIN = "acme.apps.example.com"
WANT = {
    "domain_name": DOMAIN,
    "subject_alternative_names": ["*.acme.apps.example.com"],
    "tags": {"platykus:tenant": "acme"},
    "purge_tags": True,
    "wait": False,
    "wait_timeout": 5,
    "state": "present",
}


@pytest.fixture
def acm(monkeypatch):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with moto.mock_aws():
        yield boto3.client("acm", region_name="eu-west-1")


def live(acm):
    return acm.list_certificates(CertificateStatuses=["PENDING_VALIDATION", "ISSUED"])["CertificateSummaryList"]


def test_request_in_check_mode_then_for_real_then_again(acm):
    planned = ensure_certificate(acm, WANT, check=True)
    assert planned == {"changed": True, "arn": None, "status": None, "validation_records": [], "actions": ["request"]}
    assert live(acm) == []

    made = ensure_certificate(acm, WANT, sleep=lambda _s: None)
    assert made["changed"] and made["actions"] == ["request"]
    assert made["status"] == "PENDING_VALIDATION"
    # The name and its wildcard share one CNAME.
    assert len(made["validation_records"]) == 1
    record = made["validation_records"][0]
    assert record["type"] == "CNAME" and record["name"].endswith("." + DOMAIN + ".")
    cert = acm.describe_certificate(CertificateArn=made["arn"])["Certificate"]
    assert set(cert["SubjectAlternativeNames"]) == {DOMAIN, "*.acme.apps.example.com"}
    assert cert["DomainValidationOptions"][0]["ValidationMethod"] == "DNS"

    for check in (True, False):
        again = ensure_certificate(acm, WANT, check=check)
        assert again == dict(made, changed=False, actions=[])
    assert len(live(acm)) == 1


def test_tags_change_in_check_mode_then_for_real_then_again(acm):
    arn = ensure_certificate(acm, WANT, sleep=lambda _s: None)["arn"]
    want = dict(WANT, tags={"platykus:tenant": "acme", "platykus:cost-center": "cc-1001"})
    assert ensure_certificate(acm, want, check=True)["actions"] == ["tag platykus:cost-center"]
    assert {t["Key"] for t in acm.list_tags_for_certificate(CertificateArn=arn)["Tags"]} == {"platykus:tenant"}
    assert ensure_certificate(acm, want)["changed"]
    assert ensure_certificate(acm, want)["changed"] is False
    purged = dict(WANT, tags={})
    assert ensure_certificate(acm, purged)["actions"] == ["untag platykus:cost-center, platykus:tenant"]
    assert acm.list_tags_for_certificate(CertificateArn=arn).get("Tags", []) == []


def test_other_names_are_another_certificate(acm):
    first = ensure_certificate(acm, WANT, sleep=lambda _s: None)
    other = ensure_certificate(acm, dict(WANT, subject_alternative_names=[]), sleep=lambda _s: None)
    assert other["changed"] and other["arn"] != first["arn"]
    assert len(live(acm)) == 2


def test_delete_in_check_mode_then_for_real_then_again(acm):
    made = ensure_certificate(acm, WANT, sleep=lambda _s: None)
    absent = dict(WANT, state="absent")
    assert ensure_certificate(acm, absent, check=True)["actions"] == ["delete %s" % made["arn"]]
    assert len(live(acm)) == 1
    assert ensure_certificate(acm, absent)["changed"]
    assert live(acm) == []
    assert ensure_certificate(acm, absent) == {
        "changed": False, "arn": None, "status": None, "validation_records": [], "actions": [],
    }  # fmt: skip


def test_wait_until_issued(acm, monkeypatch):
    # moto issues a DNS-validated certificate MOTO_ACM_VALIDATION_WAIT seconds after the request.
    monkeypatch.setattr("moto.settings.ACM_VALIDATION_WAIT", -1)
    issued = ensure_certificate(acm, dict(WANT, wait=True), sleep=lambda _s: None)
    assert issued["status"] == "ISSUED" and issued["changed"]


def test_wait_fails_naming_the_records_when_not_validated(acm):
    with pytest.raises(PlatykusError, match="is PENDING_VALIDATION after 0s; create its validation records"):
        ensure_certificate(acm, dict(WANT, wait=True, wait_timeout=0), sleep=lambda _s: None)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"domain_name": "Not A Name"}, "domain_name: 'Not A Name' is not a DNS name"),
        ({"subject_alternative_names": ["ok.example.com", "bad_name"]}, "subject_alternative_names[1]: 'bad_name'"),
        ({"subject_alternative_names": ["n%d.example.com" % i for i in range(10)]}, "11 names, ACM allows 10"),
        ({"tags": {"aws:reserved": "x"}}, "tags: 'aws:reserved' is not a valid tag key"),
    ],
)
def test_bad_input_names_the_field_before_any_call(change, message):
    class NoCalls:
        def __getattr__(self, name):
            raise AssertionError("ACM was called: %s" % name)

    with pytest.raises(PlatykusError, match=message.replace("[", r"\[").replace("]", r"\]")):
        ensure_certificate(NoCalls(), dict(WANT, **change))


def test_names_are_deduplicated_and_the_token_is_stable():
    names = validate_request(dict(WANT, subject_alternative_names=[DOMAIN, "*.acme.apps.example.com"]))
    assert names == [DOMAIN, "*.acme.apps.example.com"]
    token = idempotency_token(names)
    assert token == idempotency_token(list(names)) and len(token) == 32 and token.isalnum()
