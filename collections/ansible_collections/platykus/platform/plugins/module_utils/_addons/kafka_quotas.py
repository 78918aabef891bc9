# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kafka client quotas of a user (DescribeClientQuotas / AlterClientQuotas, KIP-546).

confluent-kafka (what _addons.kafka uses for users, ACLs and topics) has no client-quota calls, and
kafka-python 3.0 ships the two protocol messages without a method for them; :class:`QuotaClient`
sends them through kafka-python's admin client the way its own admin mixins send every request
(``self._manager.send``), pinned in requirements.txt. Quotas are per SCRAM user (entity type
``user``); the broker applies an alteration asynchronously (the KRaft metadata log), so
:meth:`QuotaClient.alter` waits until a describe answers the new values.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError

ENTITY = "user"
MATCH_EXACT = 0
TIMEOUT = 15.0


def _library() -> Any:
    """kafka-python, imported when first needed (loading its protocol schemas is slow and noisy)."""
    try:
        import kafka.admin
        import kafka.errors
        import kafka.protocol.admin
    except ImportError as err:  # pragma: no cover - reported when a Kafka add-on is requested
        raise PlatykusError(
            "the Python library 'kafka-python' is required for Kafka add-on quotas; pip install -r requirements.txt"
        ) from err
    return kafka


def quota_changes(desired: Mapping[str, float], actual: Mapping[str, float]) -> list[tuple[str, float, bool]]:
    """The ops of an AlterClientQuotas entry: (key, value, remove), sorted; [] when nothing differs."""
    ops = [(key, float(value), False) for key, value in desired.items() if actual.get(key) != float(value)]
    ops += [(key, 0.0, True) for key in actual if key not in desired]
    return sorted(ops)


class QuotaClient:
    """Read and set one user's client quotas as the broker's admin (server = the admin record)."""

    def __init__(self, server: Mapping[str, Any], clock: Callable[[], float] = time.monotonic) -> None:
        self.server = server
        self._clock = clock
        self._admin: Any = None

    def _client(self) -> Any:
        kafka = _library()
        if self._admin is None:
            try:
                self._admin = kafka.admin.KafkaAdminClient(
                    bootstrap_servers=self.server.get("bootstrap")
                    or "%s:%s" % (self.server["host"], self.server["port"]),
                    security_protocol=self.server.get("security_protocol", "SASL_PLAINTEXT"),
                    sasl_mechanism=self.server.get("mechanism", "SCRAM-SHA-512"),
                    sasl_plain_username=self.server["user"],
                    sasl_plain_password=self.server["password"],
                    request_timeout_ms=int(TIMEOUT * 1000),
                )
            except kafka.errors.KafkaError as err:
                raise PlatykusError("Failed to connect to Kafka for client quotas: %s" % type(err).__name__) from err
        return self._admin

    def _send(self, request: Any, what: str) -> Any:
        admin = self._client()

        async def send() -> Any:
            return await admin._manager.send(request)  # noqa: SLF001 - as kafka-python's admin mixins do

        try:
            return admin._manager.run(send)  # noqa: SLF001
        except _library().errors.KafkaError as err:
            raise PlatykusError("Failed to %s: %s" % (what, err)) from err

    def describe(self, user: str) -> dict[str, float]:
        """The user's own quotas (not defaults): key -> value."""
        request = _library().protocol.admin.DescribeClientQuotasRequest(
            components=[(ENTITY, MATCH_EXACT, user)], strict=True
        )
        answer = self._send(request, "read the client quotas of Kafka user '%s'" % user)
        if answer.error_code:
            raise PlatykusError(
                "Failed to read the client quotas of Kafka user '%s': %s"
                % (user, answer.error_message or answer.error_code)
            )
        values: dict[str, float] = {}
        for entry in answer.entries or []:
            if [(e.entity_type, e.entity_name) for e in entry.entity] == [(ENTITY, user)]:
                values.update({v.key: float(v.value) for v in entry.values})
        return values

    def alter(self, user: str, ops: list[tuple[str, float, bool]]) -> None:
        """Apply the ops (see :func:`quota_changes`), then wait until the broker answers them."""
        if not ops:
            return
        request = _library().protocol.admin.AlterClientQuotasRequest(
            entries=[([(ENTITY, user)], ops)], validate_only=False
        )
        answer = self._send(request, "set the client quotas of Kafka user '%s'" % user)
        for entry in answer.entries or []:
            if entry.error_code:
                raise PlatykusError(
                    "Failed to set the client quotas of Kafka user '%s': %s"
                    % (user, entry.error_message or entry.error_code)
                )
        want = {key: value for key, value, remove in ops if not remove}
        gone = {key for key, _value, remove in ops if remove}
        deadline = self._clock() + TIMEOUT
        while True:
            actual = self.describe(user)
            if all(actual.get(k) == v for k, v in want.items()) and not gone & set(actual):
                return
            if self._clock() > deadline:
                raise PlatykusError(
                    "Failed to set the client quotas of Kafka user '%s': the broker still answers %s after %.0fs"
                    % (user, actual, TIMEOUT)
                )
            time.sleep(0.2)

    def close(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None
