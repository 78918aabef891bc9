# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Add-on connection Secrets are the platform's: a ValidatingAdmissionPolicy (CEL, no webhook).

Tenant developers may write Secrets in their namespaces (their apps need them), which would let
them edit or delete an add-on's connection Secret: a Secret whose password no longer matches the
server, or an add-on that still runs (and is charged) with no Secret. In every namespace labelled
platykus.io/tenant, the policy refuses UPDATE and DELETE of Secrets carrying ADDON_LABEL (on the
Secret as stored, so removing the label is refused too) unless the request comes from the
platform: a member of PLATFORM_WRITER_GROUPS, anyone RBAC lets `manage` addons.platykus.io in
that namespace (cluster-admin does), or a control-plane controller (the namespace controller when
a tenant is offboarded, the garbage collector): :data:`_admission.common.IS_PLATFORM_REQUEST`.
Create, resize, rotation and destroy (the addon module, as the platform's identity) are
unaffected; tenants still read them.

The audit compares what the API server holds with :func:`render_addon_policies` (ADDON-1) and
tries an ExternalSecret that would write an add-on Secret (ADDON-2): its entry in
:data:`_audit.policies.REGISTRY`.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._admission.common import (
    IS_PLATFORM_REQUEST,
    render_binding,
    render_policy,
    resource_rule,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.names import (
    ADDON_EXTERNALSECRET_POLICY_NAME,
    ADDON_LABEL,
    ADDON_SECRET_POLICY_NAME,
    ADDON_SECRET_PREFIX,
    EXTERNAL_SECRETS_USER,
)

_IS_ADDON_SECRET = "has(oldObject.metadata.labels) && '%s' in oldObject.metadata.labels" % ADDON_LABEL
# external-secrets' controller writes the Secrets of the aws provider's add-on ExternalSecrets
# (creation, refresh after a rotation): it may, since tenants can neither change those
# ExternalSecrets nor make one that targets an add-on Secret (the companion policy below).
_IS_PLATFORM_OR_ESO = "%s || request.userInfo.username == '%s'" % (IS_PLATFORM_REQUEST, EXTERNAL_SECRETS_USER)
EXTERNAL_SECRETS_GROUP = "external-secrets.io"
_ES_VARIABLES = [
    {
        "name": "target",
        "expression": "object == null ? '' : (has(object.spec.target) && has(object.spec.target.name) "
        "? object.spec.target.name : object.metadata.name)",
    },
    {
        "name": "platformOwned",
        "expression": "oldObject != null && has(oldObject.metadata.labels) && '%s' in oldObject.metadata.labels"
        % ADDON_LABEL,
    },
]
ES_MESSAGE = (
    "add-on ExternalSecrets (label %s) and the Secrets named %s* belong to the platform: tenants cannot change "
    "or delete them, nor make an ExternalSecret that writes one; name your ExternalSecret's target otherwise"
    % (ADDON_LABEL, ADDON_SECRET_PREFIX)
)
MESSAGE = (
    "add-on connection Secrets (label %s) belong to the platform: tenants cannot change or delete them; "
    "rotate the password with playbooks/addon-rotate.yml, destroy the add-on with playbooks/addon-destroy.yml"
    % ADDON_LABEL
)


def render_addon_secret_policy() -> list[dict[str, Any]]:
    """The policy and its binding (Deny in every tenant namespace)."""
    policy = render_policy(
        ADDON_SECRET_POLICY_NAME,
        [resource_rule("", ["secrets"], ["UPDATE", "DELETE"])],
        [{"expression": _IS_PLATFORM_OR_ESO, "reason": "Forbidden", "message": MESSAGE}],
        match_conditions=[{"name": "addon-secret", "expression": _IS_ADDON_SECRET}],
    )
    return [policy, render_binding(ADDON_SECRET_POLICY_NAME)]


def render_addon_externalsecret_policy() -> list[dict[str, Any]]:
    """The ExternalSecret companion and its binding: only the platform changes or deletes an add-on's
    ExternalSecret (label on the stored object) or makes one whose target is an add-on Secret name."""
    validation = {
        "expression": "%s || (!variables.platformOwned && !variables.target.startsWith('%s'))"
        % (_IS_PLATFORM_OR_ESO, ADDON_SECRET_PREFIX),
        "reason": "Forbidden",
        "message": ES_MESSAGE,
    }
    policy = render_policy(
        ADDON_EXTERNALSECRET_POLICY_NAME,
        [resource_rule(EXTERNAL_SECRETS_GROUP, ["externalsecrets"], ["CREATE", "UPDATE", "DELETE"], ("*",))],
        [validation],
        variables=_ES_VARIABLES,
    )
    return [policy, render_binding(ADDON_EXTERNALSECRET_POLICY_NAME)]


def render_addon_policies() -> list[dict[str, Any]]:
    """Both policies and their bindings, as onboarding applies them."""
    return render_addon_secret_policy() + render_addon_externalsecret_policy()
