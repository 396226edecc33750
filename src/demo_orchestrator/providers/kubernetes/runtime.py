"""The `kubernetes` runtime: a namespace per demo, applied, watched and torn down.

`ensure` (the plan's deploy step) renders the demo exactly as `democtl render` prints it (the
fence from `fence`, the blueprint's chart through the real `helm template`) and applies every
object with server-side apply under our field manager `demo-orchestrator`, fence first, then
prunes what carries the demo's label but is no longer rendered (the way Argo CD deploys a Helm
chart: the cluster holds plain objects and no Helm release). A Job whose pod template changed
(the API refuses that: the field is immutable) is deleted, propagation Background, and created
again. Routes (HTTPRoute or Ingress) are held back, and kept in the namespace itself (the
ConfigMap `demo-held-routes`, so that an orchestrator restarted between deploy and health still
has them): `check_ready` (the health gate) applies them once every Deployment is available, so
the orchestrator's wildcard route answers for the demo with its "starting" page until then.

The rollout is watched, not polled: the first `check_ready` of a demo starts a watch of its
Deployments (`rollouts.py`: list, then watch from that resourceVersion, resumed after each
server time-out, listed again on 410 Gone, bounded in time) on the API client's event loop; the
health gate reads the watched state, and each change calls the hook the engine gave
(`on_change`), which wakes the waiting step at once instead of at its next poll.

`destroy` deletes the namespace (the cluster deletes what is in it) and watches it until gone,
for a few seconds at most (no worker is held longer): still there means the engine asks again
later; a namespace stuck in Terminating is reported with the conditions the namespace controller
set (finalizers left, APIs unavailable), retried, and left to the orphan sweep, which finds our
namespaces by label (`owned`). `set_expiry` moves the namespace's `janitor/expires` when a demo
is extended.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Self

from demo_orchestrator.domain.errors import (
    DemoError,
    NotFound,
    NotReady,
    PermanentError,
    TemporaryError,
)
from demo_orchestrator.providers.base import (
    Endpoint,
    Health,
    InstanceSpec,
    Outputs,
    ProviderSettings,
    RuntimeProvider,
    own_settings,
)
from demo_orchestrator.providers.kubernetes.cluster import (
    Cluster,
    ClusterUnreachable,
    ImmutableField,
    describe,
)
from demo_orchestrator.providers.kubernetes.credentials import demo_credentials
from demo_orchestrator.providers.kubernetes.fence import (
    EXPIRES_ANNOTATION,
    INSTANCE_LABEL,
    MANAGED_BY,
    OWNER_LABEL,
)
from demo_orchestrator.providers.kubernetes.render import DemoRequest, render_demo
from demo_orchestrator.providers.kubernetes.rollouts import Rollouts, judge
from demo_orchestrator.providers.kubernetes.settings import KubernetesSettings, SharedDataServers
from demo_orchestrator.providers.ownership import INSTANCE_ID, owner_of
from demo_orchestrator.settings import Settings

log = logging.getLogger(__name__)

Object = dict[str, Any]
NAMESPACE: Object = {"apiVersion": "v1", "kind": "Namespace"}
DEPLOYMENT: Object = {"apiVersion": "apps/v1", "kind": "Deployment"}
SECRET: Object = {"apiVersion": "v1", "kind": "Secret"}
POD: Object = {"apiVersion": "v1", "kind": "Pod"}
JOB: Object = {"apiVersion": "batch/v1", "kind": "Job"}
CONFIGMAP: Object = {"apiVersion": "v1", "kind": "ConfigMap"}
HELD_ROUTES = "demo-held-routes"  # the ConfigMap keeping the routes until the stack is available
ROUTE_KINDS = {
    "HTTPRoute": {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute"},
    "Ingress": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress"},
}
# Kinds a demo's namespace may hold that pruning looks through (plus any kind just applied):
# exactly those the orchestrator chart's RBAC grants (tests/kubernetes/test_runtime_rbac.py).
PRUNABLE: tuple[tuple[str, str], ...] = (
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "Service"),
    ("v1", "ResourceQuota"),
    ("v1", "LimitRange"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("batch/v1", "Job"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
)
TERMINATING_POLL_SECONDS = 0.2
TEARDOWN_WATCH_SECONDS = 5.0  # how long `destroy` watches a deleted namespace before letting go
REACHABLE_CACHE_SECONDS = 5.0
PROSPECT_ENV = "DEMO_PROSPECT_"  # the prospect woven into the demo (company, industry)
# Where and with which token the stack reports engagement (engine/activity_log.py).
ORCHESTRATOR_URL_ENV = "DEMO_ORCHESTRATOR_URL"
ACTIVITY_TOKEN_ENV = "DEMO_ACTIVITY_TOKEN"
OUTAGE_POLL_SECONDS = 2.0
STUCK_RETRY_SECONDS = 5.0
# Conditions the namespace controller sets on a namespace it cannot finish deleting.
STUCK_CONDITIONS = {
    "NamespaceDeletionDiscoveryFailure",
    "NamespaceDeletionGroupVersionParsingFailure",
    "NamespaceDeletionContentFailure",
    "NamespaceContentRemaining",
    "NamespaceFinalizersRemaining",
}


def _expiry(spec: InstanceSpec, fallback: datetime) -> datetime:
    given = spec.env.get("DEMO_EXPIRES_AT")
    if given:
        try:
            return datetime.fromisoformat(given).astimezone(UTC)
        except ValueError:
            log.warning("%s: DEMO_EXPIRES_AT %r is not a date", spec.instance_id, given)
    return fallback


def _stuck_conditions(namespace: Object) -> list[Object]:
    return [
        c
        for c in (namespace.get("status") or {}).get("conditions") or []
        if c.get("type") in STUCK_CONDITIONS and c.get("status") == "True"
    ]


def _stuck(namespace: Object) -> bool:
    """The namespace controller said why it cannot finish: watching longer will not help."""
    return bool(_stuck_conditions(namespace))


def _key(obj: Object) -> tuple[str, str, str]:
    return (obj["apiVersion"], obj["kind"], obj["metadata"]["name"])


class KubernetesRuntime(RuntimeProvider):
    name = "kubernetes"
    settings_model: ClassVar[type[ProviderSettings] | None] = KubernetesSettings
    # A demo's requests go from the cluster's Gateway straight to its Services, so this
    # orchestrator cannot see it idle: it sleeps when asked, never by itself.
    sees_traffic: ClassVar[bool] = False
    refuses: ClassVar[dict[str, str]] = {
        "reset": "reset in place is not built for Kubernetes yet; delete the demo and create a "
        "new one for pristine data",
        "rotate-links": "rotating sign-in links is not built for Kubernetes yet (the demo's "
        "pods would need the new secret and a restart); delete the demo and create a new one "
        "for new links",
    }

    def __init__(
        self,
        *,
        settings: KubernetesSettings,
        servers: SharedDataServers,
        base_domain: str,
        owner: str,
        secret_key: str | None,
        max_hours: float,
        cluster: Cluster | None = None,
        orchestrator_port: int = 8000,
    ) -> None:
        self.settings = settings
        self.servers = servers
        self.base_domain = base_domain
        self.owner = owner
        self.secret_key = secret_key
        self.max_hours = max_hours
        # The orchestrator pods' port (DEMO_PORT): demos that report engagement may reach it.
        self.orchestrator_port = orchestrator_port
        self.cluster = cluster or Cluster(
            kubeconfig=settings.kubeconfig,
            context=settings.context,
            timeout_seconds=settings.api_timeout_seconds,
        )
        # Routes rendered by `ensure`, applied by `check_ready` once the stack is available; also
        # in the namespace's `demo-held-routes`, read from there after a restart.
        self._routes: dict[str, list[Object]] = {}
        self.rollouts = Rollouts(self.cluster, DEPLOYMENT, INSTANCE_LABEL)
        self._lock = threading.Lock()
        self._reachability: tuple[float, str] = (0.0, "")  # (good until, problem or "")

    @classmethod
    def from_settings(cls, settings: Settings, own: ProviderSettings | None = None) -> Self:
        kubernetes = own_settings(cls.name, KubernetesSettings, own)
        return cls(
            settings=kubernetes,
            servers=SharedDataServers(),
            base_domain=settings.base_domain,
            owner=owner_of(settings),
            secret_key=settings.secret_key,
            max_hours=settings.max_hours,
            orchestrator_port=settings.port,
        )

    # -- deploy --------------------------------------------------------------------------------

    def render(self, spec: InstanceSpec) -> list[Object]:
        """Every object of the demo, labelled as ours (the same set `democtl render` prints)."""
        now = datetime.now(UTC)
        request = DemoRequest(
            instance_id=spec.instance_id,
            blueprint=spec.blueprint,
            scenario=spec.scenario,
            base_domain=self.base_domain,
            owner=self.owner,
            expires_at=_expiry(spec, now + timedelta(hours=self.max_hours)),
            env={
                k: v
                for k, v in spec.env.items()
                if k.startswith(PROSPECT_ENV) or k in (ORCHESTRATOR_URL_ENV, "DEMO_TOUR")
            },
            secret_env={k: v for k, v in spec.env.items() if k == ACTIVITY_TOKEN_ENV},
            reports_to=self.orchestrator_port if ACTIVITY_TOKEN_ENV in spec.env else None,
        )
        credentials = demo_credentials(spec.instance_id, self.secret_key)
        if spec.env.get("DEMO_LOGIN_SECRET"):
            # The key the orchestrator signs the personas' one-click sign-in links with.
            credentials = replace(credentials, login_secret=spec.env["DEMO_LOGIN_SECRET"])
        objects = render_demo(
            request, settings=self.settings, servers=self.servers, credentials=credentials
        )
        for obj in objects:
            labels = obj.setdefault("metadata", {}).setdefault("labels", {})
            labels.setdefault("app.kubernetes.io/managed-by", MANAGED_BY)
            labels[INSTANCE_LABEL] = spec.instance_id
            labels[OWNER_LABEL] = self.owner
            if obj["kind"] == "Secret" and "demo-orchestrator/copied-from" in obj["metadata"].get(
                "annotations", {}
            ):
                self._fill_copy(obj)
        return objects

    def _fill_copy(self, secret: Object) -> None:
        """The wildcard certificate copied from the orchestrator's namespace (Ingress + TLS)."""
        source = secret["metadata"]["annotations"]["demo-orchestrator/copied-from"]
        namespace, name = source.split("/", 1)
        found = self.cluster.get(SECRET, name, namespace)
        if found is None:
            raise TemporaryError(
                f"Secret {source} (DEMO_KUBERNETES_TLS_SECRET) is not there to copy into "
                f"{secret['metadata']['namespace']}"
            )
        secret.pop("stringData", None)
        secret["data"] = found.get("data", {})

    @contextmanager
    def _outage_waits(self, doing: str) -> Iterator[None]:
        """While the API cannot be reached, a create waits (the engine polls, counting no
        retry) for up to DEMO_KUBERNETES_OUTAGE_WAIT_SECONDS instead of failing at once."""
        try:
            yield
        except ClusterUnreachable as exc:
            raise NotReady(
                f"{doing} waits for the cluster: {exc.detail}",
                delay=OUTAGE_POLL_SECONDS,
                timeout=self.settings.outage_wait_seconds,
            ) from exc

    def ensure(self, *, spec: InstanceSpec) -> Outputs:
        with self._outage_waits("deploying"):
            return self._deploy(spec)

    def _deploy(self, spec: InstanceSpec) -> Outputs:
        ns = spec.instance_id
        existing = self.cluster.get(NAMESPACE, ns)
        if existing is not None and not self._ours(existing):
            raise PermanentError(
                f"namespace {ns} exists and is not managed by this orchestrator (owner "
                f"{self.owner}): it is left alone"
            )
        if existing is not None and existing.get("metadata", {}).get("deletionTimestamp"):
            raise self._terminating(existing)
        objects = self.render(spec)
        routes = [o for o in objects if o["kind"] in ROUTE_KINDS]
        stack = [o for o in objects if o["kind"] not in ROUTE_KINDS]
        stack.append(self._held(ns, routes))
        for obj in stack:  # namespace first: the order render gives
            self._apply(obj)
        pruned = self._prune(ns, stack, kinds=self._kinds(stack))
        with self._lock:
            self._routes[ns] = routes
        services = {
            route: {"host": f"{service.name}.{ns}.svc.cluster.local", "port": service.port}
            for service in spec.blueprint.services
            for route in service.routes
        }
        return Outputs(
            state={"namespace": ns, "objects": len(stack), "services": services},
            message=f"applied {len(stack)} objects to namespace {ns}"
            + (f", pruned {len(pruned)}" if pruned else "")
            + f"; {len(routes)} route(s) wait for the stack to be available",
        )

    def _held(self, ns: str, routes: list[Object]) -> Object:
        """The routes waiting for the stack, kept in the namespace (they hold no secret)."""
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": HELD_ROUTES,
                "namespace": ns,
                "labels": {
                    "app.kubernetes.io/managed-by": MANAGED_BY,
                    INSTANCE_LABEL: ns,
                    OWNER_LABEL: self.owner,
                },
            },
            "data": {"routes.json": json.dumps(routes, sort_keys=True)},
        }

    def _apply(self, obj: Object) -> None:
        try:
            self.cluster.apply(obj)
        except ImmutableField:
            if obj["kind"] != "Job":
                raise
            # A changed migrate/seed Job: its pod template cannot change in place. The old Job
            # goes now (its pods after it) and the new one runs.
            name, ns = obj["metadata"]["name"], obj["metadata"]["namespace"]
            log.info("%s: Job %s changed: deleting it and creating it again", ns, name)
            self.cluster.delete(JOB, name, ns, background=True)
            self.cluster.apply(obj)

    @staticmethod
    def _kinds(objects: list[Object]) -> list[tuple[str, str]]:
        kinds = list(PRUNABLE)
        for obj in objects:
            kind = (obj["apiVersion"], obj["kind"])
            if kind not in kinds and obj["kind"] != "Namespace":
                kinds.append(kind)
        return kinds

    def _prune(self, ns: str, keep: list[Object], *, kinds: list[tuple[str, str]]) -> list[str]:
        """Delete objects of the demo (by label) of these kinds that are no longer rendered."""
        wanted = {_key(o) for o in keep}
        pruned = []
        for api_version, kind in kinds:
            kind_of = {"apiVersion": api_version, "kind": kind}
            for found in self.cluster.list(kind_of, labels={INSTANCE_LABEL: ns}, namespace=ns):
                found.setdefault("apiVersion", api_version)
                found.setdefault("kind", kind)
                if _key(found) not in wanted:
                    self.cluster.delete(kind_of, found["metadata"]["name"], ns)
                    pruned.append(describe(found))
        if pruned:
            log.info("%s: pruned %s", ns, ", ".join(pruned))
        return pruned

    # -- health --------------------------------------------------------------------------------

    def _rollout(self, instance_id: str) -> Health:
        deployments = self.cluster.list(
            DEPLOYMENT, labels={INSTANCE_LABEL: instance_id}, namespace=instance_id
        )
        return judge(instance_id, deployments)

    def on_change(self, notify: Callable[[str], None]) -> None:
        """The engine's hook: called with a demo's id when its watched rollout changed."""
        self.rollouts.notify = notify

    def probe(self, *, instance_id: str) -> Health:
        return self._rollout(instance_id)

    def alive(self, *, instance_id: str) -> Health:
        """An API outage says nothing of the demo's pods (the data plane keeps serving): the
        engine's healing must not restart every demo because the control plane is away."""
        try:
            return self._rollout(instance_id)
        except ClusterUnreachable as exc:
            return Health(True, f"not judged: {exc.detail}")

    def check_ready(self, *, instance_id: str) -> Health:
        with self._outage_waits("the health gate"):
            return self._check_ready(instance_id)

    def _check_ready(self, instance_id: str) -> Health:
        health = self.rollouts.health(instance_id)
        if not health.healthy:  # read from the watch: no API call per poll of the engine
            return health
        routes = self._held_routes(instance_id)
        for route in routes:
            self.cluster.apply(route)
        configured = self.settings.route_kind
        kind = "HTTPRoute" if configured == "httproute" else "Ingress"
        self._prune(instance_id, routes, kinds=[(ROUTE_KINDS[kind]["apiVersion"], kind)])
        self.rollouts.stop(instance_id)
        return Health(True, f"{health.detail}; {len(routes)} route(s) applied")

    def _held_routes(self, instance_id: str) -> list[Object]:
        with self._lock:
            routes = self._routes.get(instance_id)
        if routes is not None:
            return routes
        held = self.cluster.get(CONFIGMAP, HELD_ROUTES, instance_id)
        if held is None:
            raise TemporaryError(
                f"the routes of {instance_id} are not in its namespace (ConfigMap "
                f"{HELD_ROUTES} is missing): deploying again"
            )
        loaded: list[Object] = json.loads((held.get("data") or {}).get("routes.json") or "[]")
        with self._lock:
            self._routes[instance_id] = loaded
        return loaded

    def endpoint(self, *, instance_id: str, state: dict[str, Any], route: str) -> Endpoint | None:
        found = state.get("services", {}).get(route)
        if not found:
            return None
        return Endpoint(host=str(found["host"]), port=int(found["port"]))

    def logs(self, *, instance_id: str, service: str, tail: int) -> str:
        """The newest pod of the service's last `tail` lines (what `kubectl logs` shows)."""
        pods = self.cluster.list(
            POD,
            labels={INSTANCE_LABEL: instance_id, "app.kubernetes.io/name": service},
            namespace=instance_id,
        )
        if not pods:
            known = sorted(
                {
                    d["metadata"]["name"]
                    for d in self.cluster.list(
                        DEPLOYMENT, labels={INSTANCE_LABEL: instance_id}, namespace=instance_id
                    )
                }
            )
            raise NotFound(
                f"no pod of service {service!r} in namespace {instance_id}; services: "
                f"{', '.join(known) or 'none (is the demo running?)'}"
            )
        newest = max(pods, key=lambda p: str(p["metadata"].get("creationTimestamp") or ""))
        return self.cluster.pod_log(newest["metadata"]["name"], instance_id, tail=tail)

    # -- teardown, expiry, sweep ---------------------------------------------------------------

    def _terminating(self, namespace: Object) -> TemporaryError:
        name = namespace["metadata"]["name"]
        conditions = _stuck_conditions(namespace)
        if conditions:
            why = "; ".join(f"{c['type']}: {c.get('message', '')}" for c in conditions)
            return TemporaryError(
                f"namespace {name} is stuck in Terminating ({why}); retried, and left to the "
                "orphan sweep",
                delay=STUCK_RETRY_SECONDS,
            )
        return NotReady(f"namespace {name} is terminating", delay=TERMINATING_POLL_SECONDS)

    def _ours(self, namespace: Object) -> bool:
        labels = namespace.get("metadata", {}).get("labels") or {}
        return (
            labels.get("app.kubernetes.io/managed-by") == MANAGED_BY
            and labels.get(OWNER_LABEL) == self.owner
        )

    def destroy(self, *, instance_id: str) -> None:
        with self._lock:
            self._routes.pop(instance_id, None)
        self.rollouts.stop(instance_id)
        found = self.cluster.get(NAMESPACE, instance_id)
        if found is None:
            return
        if not self._ours(found):
            log.warning(
                "%s: the namespace is not ours (no owner label %s)", instance_id, self.owner
            )
            return
        if not found["metadata"].get("deletionTimestamp"):
            self.cluster.delete(NAMESPACE, instance_id)
        left = self.cluster.wait_gone(
            NAMESPACE, instance_id, seconds=TEARDOWN_WATCH_SECONDS, give_up=_stuck
        )
        if left is not None:
            raise self._terminating(left)

    def suspend(self, *, instance_id: str) -> None:
        """Sleep as scale to zero: the demo's routes and its services' Deployments go; the
        namespace, its secrets, the seed Job's record and the data stores (StatefulSets, or the
        shared servers) stay. Requests for its hosts then reach the orchestrator's wildcard route,
        which shows the waking page and wakes it; waking applies the chart again (the
        Deployments come back, the routes once they are available)."""
        with self._lock:
            self._routes.pop(instance_id, None)
        self.rollouts.stop(instance_id)
        found = self.cluster.get(NAMESPACE, instance_id)
        if found is None or not self._ours(found):
            return
        gone = []
        for kind_of in (*ROUTE_KINDS.values(), DEPLOYMENT):
            for obj in self.cluster.list(
                kind_of, labels={INSTANCE_LABEL: instance_id}, namespace=instance_id
            ):
                self.cluster.delete(kind_of, obj["metadata"]["name"], instance_id)
                gone.append(f"{kind_of['kind']} {obj['metadata']['name']}")
        log.info("%s: asleep (%s removed)", instance_id, ", ".join(gone) or "nothing")

    def follow_expiry(self, *, instance_id: str, expires_at: datetime) -> None:
        self.set_expiry(instance_id=instance_id, expires_at=expires_at)

    def set_expiry(self, *, instance_id: str, expires_at: datetime) -> None:
        """Move the namespace's `janitor/expires` (kube-janitor's deadline) to `expires_at`."""
        stamp = expires_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.cluster.merge_patch(
            NAMESPACE, instance_id, {"metadata": {"annotations": {EXPIRES_ANNOTATION: stamp}}}
        )

    def owned(self) -> set[str]:
        found = self.cluster.list(
            NAMESPACE,
            labels={"app.kubernetes.io/managed-by": MANAGED_BY, OWNER_LABEL: self.owner},
        )
        ids = {n["metadata"].get("labels", {}).get(INSTANCE_LABEL, "") for n in found}
        return {i for i in ids if INSTANCE_ID.fullmatch(i)}

    def reachable(self) -> None:
        """One cheap read (the orchestrator's own namespace), its answer kept a few seconds so
        `/healthz` probes do not become API traffic."""
        now = time.monotonic()
        with self._lock:
            until, problem = self._reachability
        if now < until:
            if problem:
                raise TemporaryError(problem)
            return
        problem = ""
        try:
            self.cluster.get(NAMESPACE, self.settings.namespace)
        except DemoError as exc:
            problem = f"kubernetes runtime: {exc.detail}"
        with self._lock:
            self._reachability = (now + REACHABLE_CACHE_SECONDS, problem)
        if problem:
            raise TemporaryError(problem)

    def close(self) -> None:
        self.rollouts.close()
        self.cluster.close()
