# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's one way to reach the Kubernetes API server.

It talks REST through the official ``kubernetes`` client's ApiClient (auth, TLS and
kubeconfig handling come from there, see :mod:`.kube_connect`) and adds what the modules need in
bulk (:mod:`.kube_rest`): discovery cached per run, paged lists, ``get``/``delete`` with one rule
for missing objects; and here, server-side apply of a batch of objects with a field manager,
dry-run whole before the first real write. Every request has connect/read timeouts and bounded
retries with backoff; every failure is a :class:`~.kube_types.KubeApiError` reading
``Failed to <verb> <kind> <ns>/<name>: <status> <reason>``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ansible_collections.platykus.platform.plugins.module_utils._core.errors import PlatykusError
from ansible_collections.platykus.platform.plugins.module_utils._core.kube_connect import load_api_client
from ansible_collections.platykus.platform.plugins.module_utils._core.kube_rest import RestClient
from ansible_collections.platykus.platform.plugins.module_utils._core.kube_types import (
    ApplyResult,
    KubeApiError,
    normalize,
)
from ansible_collections.platykus.platform.plugins.module_utils._core.names import FIELD_MANAGER

# A dry run of an object whose namespace this batch creates is validated in this namespace,
# which every cluster has (a dry run writes nothing there).
_DRY_RUN_NAMESPACE = "default"


def client_factory(params: dict) -> Callable[[], KubeClient]:
    """A zero-argument connector, so modules validate their input before any connection is made."""

    def connect() -> KubeClient:
        return KubeClient.from_kubeconfig(
            params.get("kubeconfig"),
            params.get("context"),
            timeout=params.get("request_timeout") or 30.0,
            retries=params.get("request_retries") if params.get("request_retries") is not None else 3,
        )

    return connect


def object_key(obj: dict) -> str:
    """A readable identity: ``Kind/namespace/name`` (or ``Kind/name`` when cluster-scoped)."""
    meta = obj.get("metadata") or {}
    parts = [obj.get("kind", "?")]
    if meta.get("namespace"):
        parts.append(meta["namespace"])
    parts.append(meta.get("name", "?"))
    return "/".join(parts)


class KubeClient(RestClient):
    """REST access to one cluster, with batch apply. Construct with :meth:`from_kubeconfig`."""

    @classmethod
    def from_kubeconfig(
        cls, kubeconfig: str | None = None, context: str | None = None, timeout: float = 30.0, retries: int = 3
    ) -> KubeClient:
        return cls(load_api_client(kubeconfig, context), timeout=timeout, retries=retries)

    def impersonate(self, user: str, group: str | None = None) -> KubeClient:
        """A client on the same cluster and credentials that acts as ``user`` (in ``group``) through
        the Impersonate-* headers; the API server adds system:authenticated. The caller's identity
        needs ``impersonate`` on users and groups."""
        api = type(self.api_client)(self.api_client.configuration)
        api.set_default_header("Impersonate-User", user)
        if group:
            api.set_default_header("Impersonate-Group", group)
        return KubeClient(api, timeout=self.timeout, retries=self.retries, sleep=self._sleep)

    # -- batches ----------------------------------------------------------------------------------
    def _ordered(self, objects: list[dict]) -> tuple[list[dict], list[dict]]:
        """Cluster-scoped objects first (namespaces before what goes into them); discovery is serial."""
        scoped, namespaced = [], []
        for obj in objects:
            (namespaced if self.resource(obj["apiVersion"], obj["kind"]).namespaced else scoped).append(obj)
        return scoped, namespaced

    def _befores(self, pool: ThreadPoolExecutor, objects: list[dict], current: dict[str, dict] | None) -> dict:
        if current is not None:
            return {object_key(o): current.get(object_key(o)) for o in objects}
        return dict(zip((object_key(o) for o in objects), pool.map(self._get_obj, objects)))

    def _dry_run(self, obj: dict, new_namespaces: set[str], field_manager: str) -> dict:
        """The object as the API server would store it; validated elsewhere when its namespace is new."""
        namespace = obj["metadata"].get("namespace")
        if namespace not in new_namespaces:
            return self.apply_one(obj, field_manager=field_manager, dry_run=True)
        # The namespace does not exist yet, so the object cannot be dry-run there: validate the same
        # object in a namespace that exists, and predict it as created.
        stand_in = copy.deepcopy(obj)
        stand_in["metadata"]["namespace"] = _DRY_RUN_NAMESPACE
        try:
            self.apply_one(stand_in, field_manager=field_manager, dry_run=True)
        except KubeApiError as err:
            raise KubeApiError("dry-run apply", object_key(obj), err.status, err.reason) from err
        return obj

    def apply(
        self,
        objects: Iterable[dict],
        field_manager: str = FIELD_MANAGER,
        dry_run: bool = False,
        workers: int = 8,
        current: dict[str, dict] | None = None,
        label_selector: str | None = None,
    ) -> list[ApplyResult]:
        """Server-side apply a batch; ``changed`` compares the API server's object before and after.

        The whole batch is dry-run first: if the API server would refuse any object, nothing is
        written and the error lists every refusal. The real run then writes only the objects the
        dry run says change. ``current`` may hold objects already fetched (keyed by :func:`object_key`);
        with ``label_selector`` it is fetched here with one LIST per kind (see :meth:`prefetch`).
        """
        objects = list(objects)
        if current is None and label_selector:
            current = self.prefetch(objects, label_selector, workers=workers)
        scoped, namespaced = self._ordered(objects)
        ordered = scoped + namespaced
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            # Read every object before writing any, so "created" means "absent before this run",
            # as in check mode: controllers fill new namespaces (e.g. the default ServiceAccount) meanwhile.
            befores = self._befores(pool, ordered, current)
            new_namespaces = {
                o["metadata"]["name"] for o in scoped if o["kind"] == "Namespace" and befores[object_key(o)] is None
            }
            predicted = self._predict(pool, ordered, befores, new_namespaces, field_manager)
            if dry_run:
                return predicted
            return self._write(pool, scoped, namespaced, predicted, field_manager)

    def _predict(
        self, pool: ThreadPoolExecutor, ordered: list[dict], befores: dict, new_namespaces: set[str], field_manager: str
    ) -> list[ApplyResult]:
        def one(obj: dict) -> ApplyResult | KubeApiError:
            key = object_key(obj)
            try:
                after = self._dry_run(obj, new_namespaces, field_manager)
            except KubeApiError as err:
                return err
            before = befores[key]
            return ApplyResult(
                key=key, before=before, after=after, changed=before is None or normalize(before) != normalize(after)
            )

        outcomes = list(pool.map(one, ordered))
        refused = [str(item) for item in outcomes if isinstance(item, KubeApiError)]
        if refused:
            raise PlatykusError(
                "the API server refused %d of %d objects in a dry run, so nothing was written: %s"
                % (len(refused), len(ordered), "; ".join(refused))
            )
        return [item for item in outcomes if isinstance(item, ApplyResult)]

    def _write(
        self,
        pool: ThreadPoolExecutor,
        scoped: list[dict],
        namespaced: list[dict],
        predicted: list[ApplyResult],
        field_manager: str,
    ) -> list[ApplyResult]:
        by_key = {result.key: result for result in predicted}

        def one(obj: dict) -> ApplyResult:
            planned = by_key[object_key(obj)]
            if not planned.changed:
                return planned
            after = self.apply_one(obj, field_manager=field_manager)
            changed = planned.before is None or normalize(planned.before) != normalize(after)
            return ApplyResult(key=planned.key, before=planned.before, after=after, changed=changed)

        results: list[ApplyResult] = []
        for group in (scoped, namespaced):
            results.extend(pool.map(one, group))
        return results

    def prefetch(self, objects: list[dict], label_selector: str, workers: int = 8) -> dict[str, dict]:
        """The current state of ``objects``: one LIST per kind by label, then GETs only for the rest.

        Objects missing from the labelled lists are read one by one only where they can exist:
        cluster-scoped ones, and namespaced ones whose namespace exists already (a controller may
        have made them, like a namespace's ``default`` ServiceAccount). Absent keys mean absent objects.
        """
        kinds = sorted({(o["apiVersion"], o["kind"]) for o in objects})
        for api_version, kind in kinds:
            self.resource(api_version, kind)  # discover serially, before the threads start
        found: dict[str, dict] = {}
        wanted = {object_key(o): o for o in objects}
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for items in pool.map(lambda kind: self.list_all(kind[0], kind[1], label_selector=label_selector), kinds):
                found.update((object_key(item), item) for item in items)
            missing = [o for key, o in wanted.items() if key not in found]
            scoped = [o for o in missing if not self.resource(o["apiVersion"], o["kind"]).namespaced]
            found.update(self._get_found(pool, scoped))
            existing_namespaces = {key.split("/", 1)[1] for key in found if key.startswith("Namespace/")}
            planned_namespaces = {o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"}
            rest = [
                o
                for o in missing
                if o not in scoped
                and (
                    o["metadata"].get("namespace") in existing_namespaces
                    or o["metadata"].get("namespace") not in planned_namespaces
                )
            ]
            found.update(self._get_found(pool, rest))
        return {key: found[key] for key in wanted if key in found}

    def _get_found(self, pool: ThreadPoolExecutor, objects: list[dict]) -> dict[str, dict]:
        return {
            object_key(obj): item for obj, item in zip(objects, pool.map(self._get_obj, objects)) if item is not None
        }


@dataclass
class BatchSummary:
    """What a batch apply did, in the shape modules return."""

    changed: bool = False
    created: list = field(default_factory=list)
    updated: list = field(default_factory=list)
    unchanged: list = field(default_factory=list)
    diffs: list = field(default_factory=list)

    @classmethod
    def from_results(cls, results: list[ApplyResult], with_diff: bool = False) -> BatchSummary:
        summary = cls()
        for res in results:
            if not res.changed:
                summary.unchanged.append(res.key)
                continue
            summary.changed = True
            (summary.created if res.before is None else summary.updated).append(res.key)
            if with_diff:
                summary.diffs.append(
                    {
                        "before_header": res.key,
                        "after_header": res.key,
                        "before": normalize(res.before) or {},
                        "after": normalize(res.after) or {},
                    }
                )
        return summary
