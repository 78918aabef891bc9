# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one interface every add-on provider implements, and where each (provider, type) is found.

An add-on (see _addons/catalog.py) is served by a provider chosen per inventory and per type
(``platykus_addons.providers``): ``local`` (shared servers the lab runs on 127.0.0.1), ``operator``
(operator objects in the tenant's namespace) or ``aws`` (RDS, ElastiCache, S3). The addon module
asks a provider only these questions, so a new type or provider plugs in by registering a factory:

- ``exists(addon)``: does the server hold the add-on's database/user/ACL?
- ``ensure(addon, password, check_mode)``: create what is missing and make ``password`` the one that
  works (the old one stops working); return whether anything changed (check mode: would change).
- ``remove(addon, check_mode)``: drop the database/keys/topics and the user; whether anything changed.
- ``credentials(addon, password)``: the connection Secret's data (host, port, user, password,
  database, url); no call to the server.

A provider never sees the Kubernetes API: the module writes the Secret and the Service. It raises
PlatykusError (message names the add-on, never a password) on failure.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError

# Keys of the connection Secret every provider returns from credentials().
SECRET_KEYS = ("host", "port", "user", "password", "database", "url")
_UNSAFE = re.compile(r"[^a-z0-9_]")


@dataclass(frozen=True)
class AddonRef:
    """What a provider needs to know of one add-on."""

    tenant: str
    name: str
    type: str  # postgresql | mysql | redis | kafka | bucket
    namespace: str  # the tenant environment's namespace, where its Secret goes
    plan: str
    plan_spec: Mapping[str, Any]  # the catalog entry: version, memory, storage, connections, ...
    topics: tuple[str, ...] = ()  # kafka: the topics the platform makes, without the add-on's prefix

    @property
    def ident(self) -> str:
        """The name on the server (database, user, ACL user, topic prefix): readable, unique per
        tenant and add-on, safe unquoted in SQL, at most 48 characters (MySQL's user limit is 80)."""
        digest = hashlib.sha256(("%s/%s" % (self.tenant, self.name)).encode()).hexdigest()[:8]
        tenant = _UNSAFE.sub("_", self.tenant.lower())[:18]
        name = _UNSAFE.sub("_", self.name.lower())[:18]
        return "%s_%s_%s" % (tenant, name, digest)


class AddonProvider(Protocol):
    """One provider for one add-on type (see the module docstring for each method's contract)."""

    def exists(self, addon: AddonRef) -> bool: ...

    def ensure(self, addon: AddonRef, password: str, check_mode: bool) -> bool: ...

    def remove(self, addon: AddonRef, check_mode: bool) -> bool: ...

    def credentials(self, addon: AddonRef, password: str) -> dict[str, str]: ...


# A factory gets the server's record (for ``local``: the lab's admin file of that server, see
# _addons.local.load_servers) and returns a provider.
Factory = Callable[[Mapping[str, Any]], AddonProvider]
_FACTORIES: dict[tuple[str, str], Factory] = {}
# The lab component (lab/controllers.yml entry) serving each type for the local provider.
LOCAL_SERVERS = {"postgresql": "postgresql", "mysql": "mariadb", "redis": "redis", "kafka": "kafka"}


def register(provider: str, addon_type: str, factory: Factory) -> None:
    _FACTORIES[(provider, addon_type)] = factory


def factory(provider: str, addon_type: str) -> Factory:
    """The registered factory, or a PlatykusError naming what is missing."""
    found = _FACTORIES.get((provider, addon_type))
    if found is None and provider == "aws":
        # aws add-ons are made by AWS's own modules in a playbook, not through this registry.
        raise PlatykusError(
            "type: '%s' add-ons on the aws provider are made by playbooks/addon-aws.yml (RDS, ElastiCache, "
            "MSK, S3), not by the addon module; run that playbook for this request" % addon_type,
            field="type",
        )
    if found is None:
        served = sorted(t for p, t in _FACTORIES if p == provider)
        raise PlatykusError(
            "type: provider '%s' does not serve '%s' add-ons (it serves %s); choose another type or set "
            "platykus_addons.providers.%s to a provider that does"
            % (provider, addon_type, ", ".join(served) or "none", addon_type),
            field="type",
        )
    return found


def server_record(servers: Mapping[str, Any], addon_type: str) -> Mapping[str, Any]:
    """The local server's admin record for a type, or an error saying how to start it."""
    component = LOCAL_SERVERS.get(addon_type, addon_type)
    record = servers.get(component)
    if not isinstance(record, Mapping):
        raise PlatykusError(
            "type: the lab runs no %s server for '%s' add-ons; start the lab with it "
            "(bin/platykus-lab up; PLATYKUS_LAB_CONTROLLERS must include %s)" % (component, addon_type, component),
            field="type",
        )
    return record
