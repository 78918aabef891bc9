# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An ACM certificate requested with DNS validation (no bundled module requests one).

community.aws.acm_certificate imports certificates only. Here a certificate is the live
(PENDING_VALIDATION or ISSUED) Amazon-issued one whose domain and alternative names are exactly the
wanted ones; ACM certificates cannot change their names, so other names mean another certificate
(the old one is left alone: it may be in use). The DNS records that validate it are returned for
amazon.aws.route53 to write. Takes a boto3 ACM client, reads before it writes, predicts in check
mode exactly what a real run would do; AWS errors (botocore) pass through to the module, which
reports them in the amazon.aws style.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError

LIVE_STATUSES = ("PENDING_VALIDATION", "ISSUED")
_NAME_RE = re.compile(r"^(\*\.)?([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_TAG_KEY_RE = re.compile(r"^[\w.:/=+\-@ ]{1,128}$", re.UNICODE)
MAX_NAMES = 10  # ACM's default quota of domain names per certificate


def validate_request(want: Mapping[str, Any]) -> list[str]:
    """The certificate's names (domain first, then the others, no duplicates), or PlatykusError
    naming every bad field at once."""
    problems = []
    names = [want["domain_name"]] + [n for n in want.get("subject_alternative_names") or [] if n]
    for index, name in enumerate(names):
        field = "domain_name" if index == 0 else "subject_alternative_names[%d]" % (index - 1)
        if not isinstance(name, str) or len(name) > 253 or not _NAME_RE.match(name):
            problems.append(
                "%s: %r is not a DNS name; write it like apps.example.com or *.apps.example.com" % (field, name)
            )
    unique = list(dict.fromkeys(names))
    if len(unique) > MAX_NAMES:
        problems.append("subject_alternative_names: %d names, ACM allows %d per certificate" % (len(unique), MAX_NAMES))
    for key in want.get("tags") or {}:
        if not _TAG_KEY_RE.match(key) or key.lower().startswith("aws:"):
            problems.append("tags: %r is not a valid tag key (1-128 characters, not starting with aws:)" % key)
    if problems:
        raise PlatykusError("; ".join(problems), field=problems[0].split(":", 1)[0])
    return unique


def idempotency_token(names: list[str]) -> str:
    """ACM's IdempotencyToken for these names (\\w, at most 32 characters): a retried request within
    the hour returns the same certificate instead of a second one."""
    return hashlib.sha256("\n".join(names).encode()).hexdigest()[:32]


def find_certificates(acm: Any, names: list[str]) -> list[dict[str, Any]]:
    """Live Amazon-issued certificates for exactly ``names`` (domain first), oldest first."""
    found, token = [], None
    while True:
        page = acm.list_certificates(CertificateStatuses=list(LIVE_STATUSES), **({"NextToken": token} if token else {}))
        for summary in page.get("CertificateSummaryList", []):
            if summary.get("DomainName") != names[0]:
                continue
            cert = acm.describe_certificate(CertificateArn=summary["CertificateArn"])["Certificate"]
            alternatives = set(cert.get("SubjectAlternativeNames") or [cert["DomainName"]])
            if cert.get("Type") == "AMAZON_ISSUED" and alternatives == set(names) and cert["Status"] in LIVE_STATUSES:
                found.append(cert)
        token = page.get("NextToken")
        if not token:
            return sorted(found, key=lambda c: str(c.get("CreatedAt", "")))


def validation_records(cert: Mapping[str, Any]) -> list[dict[str, str]]:
    """The DNS records that validate ``cert`` (one per distinct record: a name and its wildcard share one)."""
    records: dict[str, dict[str, str]] = {}
    for option in cert.get("DomainValidationOptions") or []:
        record = option.get("ResourceRecord")
        if option.get("ValidationMethod", "DNS") == "DNS" and record:
            records.setdefault(
                record["Name"],
                {
                    "domain": option["DomainName"],
                    "name": record["Name"],
                    "type": record["Type"],
                    "value": record["Value"],
                },
            )
    return list(records.values())


def _tags(acm: Any, arn: str) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in acm.list_tags_for_certificate(CertificateArn=arn).get("Tags", [])}


def _tag_steps(have: Mapping[str, str], want: Mapping[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    steps = []
    stale = sorted(set(have) - set(want["tags"])) if want["purge_tags"] else []
    if stale:
        tags = [{"Key": k, "Value": have[k]} for k in stale]
        steps.append(("untag " + ", ".join(stale), "remove_tags_from_certificate", {"Tags": tags}))
    missing = {k: v for k, v in want["tags"].items() if have.get(k) != v}
    if missing:
        tags = [{"Key": k, "Value": v} for k, v in sorted(missing.items())]
        steps.append(("tag " + ", ".join(sorted(missing)), "add_tags_to_certificate", {"Tags": tags}))
    return steps


def _describe_until(
    acm: Any, arn: str, ready: Callable[[dict[str, Any]], bool], timeout: float, sleep: Callable[[float], None]
) -> dict[str, Any]:
    """DescribeCertificate until ``ready`` holds (or the timeout passes: the last answer)."""
    deadline = time.monotonic() + timeout
    while True:
        cert = acm.describe_certificate(CertificateArn=arn)["Certificate"]
        if ready(cert) or time.monotonic() >= deadline:
            return cert
        sleep(2)


def _records_ready(cert: Mapping[str, Any]) -> bool:
    options = cert.get("DomainValidationOptions") or []
    return bool(options) and all(o.get("ResourceRecord") for o in options)


def _result(cert: Mapping[str, Any] | None, changed: bool, actions: list[str]) -> dict[str, Any]:
    return {
        "changed": changed,
        "arn": cert["CertificateArn"] if cert else None,
        "status": cert["Status"] if cert else None,
        "validation_records": validation_records(cert) if cert else [],
        "actions": actions,
    }


def ensure_certificate(
    acm: Any, want: Mapping[str, Any], check: bool = False, sleep: Callable[[float], None] = time.sleep
) -> dict[str, Any]:
    """``want``: domain_name, subject_alternative_names, tags, purge_tags, state, wait, wait_timeout.
    Returns changed, arn, status, validation_records, actions."""
    names = validate_request(want)
    found = find_certificates(acm, names)
    if want["state"] == "absent":
        for cert in [] if check else found:
            acm.delete_certificate(CertificateArn=cert["CertificateArn"])
        actions = ["delete %s" % c["CertificateArn"] for c in found]
        return _result(found[0] if found else None, bool(found), actions)
    if not found:
        if check:
            return _result(None, True, ["request"])
        args: dict[str, Any] = {
            "DomainName": names[0],
            "ValidationMethod": "DNS",
            "IdempotencyToken": idempotency_token(names),
        }
        if len(names) > 1:
            args["SubjectAlternativeNames"] = names
        if want["tags"]:
            args["Tags"] = [{"Key": k, "Value": v} for k, v in sorted(want["tags"].items())]
        arn = acm.request_certificate(**args)["CertificateArn"]
        # ACM fills in the validation records a few seconds after the request.
        cert = _describe_until(acm, arn, _records_ready, 60, sleep)
        actions = ["request"]
    else:
        cert = found[0]
        steps = _tag_steps(_tags(acm, cert["CertificateArn"]), want)
        for _text, call, args in [] if check else steps:
            getattr(acm, call)(CertificateArn=cert["CertificateArn"], **args)
        actions = [text for text, _call, _args in steps]
    if want.get("wait") and not check and cert["Status"] != "ISSUED":
        timeout = want.get("wait_timeout", 300)
        cert = _describe_until(
            acm, cert["CertificateArn"], lambda c: c["Status"] != "PENDING_VALIDATION", timeout, sleep
        )
        if cert["Status"] != "ISSUED":
            raise PlatykusError(
                "certificate %s for %s is %s after %ss; create its validation records (validation_records) in the "
                "domain's zone first" % (cert["CertificateArn"], names[0], cert["Status"], timeout),
                field="wait",
            )
    return _result(cert, bool(actions), actions)
