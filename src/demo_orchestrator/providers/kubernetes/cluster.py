"""The one door to the Kubernetes API: lightkube's async client on a private event loop.

The provider protocol is synchronous (the engine calls it from its worker threads), lightkube's
client is async: one event loop thread per provider holds one `AsyncClient` (one connection
pool), and each call is a coroutine submitted to it. Nothing connects before the first call.

Every answer the API gives that is not success becomes one of our errors, naming the object:
409 (conflict), 429 (throttled, with its Retry-After), 5xx and time-outs are `TemporaryError`s
the engine retries; 400, 401, 403 and 422 are `PermanentError`s (retrying cannot fix a refused
permission or an invalid object). 404 is for the caller to read as "not there".

`follow` watches a kind the way an informer does: one LIST (the state and its resourceVersion),
then a watch from that version, resumed from the last version seen whenever the server closes it
(`timeoutSeconds`), listed afresh when the server answers 410 Gone (the version was compacted
away), each change handed to a callback on the loop thread; it runs as a task on the loop, never
in a caller's thread, and ends at its deadline or when cancelled.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import httpx2
from lightkube import AsyncClient, KubeConfig, codecs
from lightkube.core.exceptions import ApiError, ConfigError, LoadResourceError
from lightkube.generic_resource import create_namespaced_resource, get_generic_resource
from lightkube.types import CascadeType, OnErrorAction, OnErrorResult, PatchType

from demo_orchestrator.domain.errors import PermanentError, ProviderError, TemporaryError

FIELD_MANAGER = "demo-orchestrator"
log = logging.getLogger(__name__)
T = TypeVar("T")
Object = dict[str, Any]
Objects = list[Object]  # (a name of its own: `Cluster.list` shadows `list` in the class)

# Kinds outside the core API that a demo's chart may hold; lightkube knows the core ones.
_GENERIC = (("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes"),)


class ClusterUnreachable(ProviderError):
    """The API server did not answer (connection refused, DNS, TLS, time-out)."""


class NotFoundInCluster(Exception):
    """404 from the API: the object is not there (the caller decides what that means)."""


class ImmutableField(PermanentError):
    """422 for a change of a field that cannot change (a Job's pod template): the object has to
    be deleted and created again."""


class _Gone(Exception):
    """410 from a watch: its resourceVersion is too old; list afresh."""


def _register_generic_kinds() -> None:
    for group, version, kind, plural in _GENERIC:
        if get_generic_resource(f"{group}/{version}", kind) is None:  # type: ignore[no-untyped-call]
            create_namespaced_resource(group, version, kind, plural)


def resource_of(obj: Object) -> Any:
    """The lightkube resource class of a plain object (`apiVersion` + `kind`)."""
    _register_generic_kinds()
    try:
        return codecs.resource_registry.load(obj["apiVersion"], obj["kind"])
    except (LoadResourceError, KeyError, AttributeError) as exc:
        raise PermanentError(
            f"{obj.get('kind')} {obj.get('apiVersion')}: a kind the kubernetes runtime cannot "
            f"apply ({exc})"
        ) from exc


def describe(obj: Object) -> str:
    meta = obj.get("metadata", {})
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj.get('kind', '?')} {where}{meta.get('name', '?')}"


def map_error(exc: BaseException, what: str, cluster: str) -> Exception:
    """Our error for a failure of a call about `what` (an object, "namespaces", ...)."""
    if isinstance(exc, ApiError):
        code = exc.status.code or 0
        reason = exc.status.reason or ""
        message = exc.status.message or ""
        detail = f"{what}: the API of cluster {cluster} answered {code} {reason}: {message}"
        if code == 404:
            return NotFoundInCluster(detail)
        if code == 429:
            retry = exc.response.headers.get("Retry-After") if exc.response is not None else None
            delay = float(retry) if retry and retry.replace(".", "", 1).isdigit() else 1.0
            return TemporaryError(detail, delay=delay)
        if code == 409 or code >= 500:
            return TemporaryError(detail)
        if code == 422 and "field is immutable" in message:
            return ImmutableField(detail)
        return PermanentError(detail)
    if isinstance(exc, (httpx2.TimeoutException, asyncio.TimeoutError, TimeoutError)):
        return ClusterUnreachable(f"{what}: the API of cluster {cluster} timed out")
    if isinstance(exc, httpx2.TransportError):
        return ClusterUnreachable(f"{what}: the API of cluster {cluster} cannot be reached ({exc})")
    if isinstance(exc, ConfigError):
        return PermanentError(f"kubernetes configuration: {exc}")
    return exc if isinstance(exc, Exception) else RuntimeError(str(exc))


class Cluster:
    """A synchronous facade over one lightkube `AsyncClient` living on its own event loop."""

    def __init__(
        self, *, kubeconfig: Path | None, context: str | None, timeout_seconds: float
    ) -> None:
        self.kubeconfig = kubeconfig
        self.context = context
        self.timeout_seconds = timeout_seconds
        self.name = "(not connected)"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: AsyncClient | None = None
        self._lock = threading.Lock()

    # -- connection ------------------------------------------------------------------------------

    def _config(self) -> Any:
        try:
            config = (
                KubeConfig.from_file(self.kubeconfig)
                if self.kubeconfig is not None
                else KubeConfig.from_env()
            )
            single = config.get(context_name=self.context)
            if single is None:
                raise KeyError(self.context or "current-context")
        except (ConfigError, OSError, KeyError, ValueError) as exc:
            raise PermanentError(
                f"no usable kubernetes configuration ({type(exc).__name__}: {exc}); set "
                "DEMO_KUBERNETES_KUBECONFIG or KUBECONFIG, or run in a cluster"
            ) from exc
        self.name = f"{single.context_name} ({single.cluster.server})"
        return single

    def _start(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                config = self._config()
                # httpx2 logs every API call at INFO: a deploy would flood the orchestrator's log.
                # What was applied, pruned or refused is said by the runtime's own messages.
                logging.getLogger("httpx2").setLevel(logging.WARNING)
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="kubernetes-api", daemon=True
                )
                thread.start()

                async def make() -> AsyncClient:
                    return AsyncClient(
                        config,
                        timeout=httpx2.Timeout(self.timeout_seconds),
                        field_manager=FIELD_MANAGER,
                    )

                self._client = asyncio.run_coroutine_threadsafe(make(), loop).result()
                self._loop, self._thread = loop, thread
            return self._loop

    def run(self, what: str, call: Callable[[AsyncClient], Awaitable[T]]) -> T:
        """Run one API call on the loop; failures come back as our errors about `what`."""
        loop = self._start()
        assert self._client is not None
        client = self._client

        async def go() -> T:
            return await call(client)

        future = asyncio.run_coroutine_threadsafe(go(), loop)
        try:
            return future.result(timeout=self.timeout_seconds * 3)
        except Exception as exc:
            mapped = map_error(exc, what, self.name)
            if mapped is exc:
                raise
            raise mapped from exc

    def close(self) -> None:
        with self._lock:
            loop, client, thread = self._loop, self._client, self._thread
            self._loop = self._client = self._thread = None
        if loop is None:
            return

        async def cancel_watches() -> None:
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        try:
            asyncio.run_coroutine_threadsafe(cancel_watches(), loop).result(timeout=5)
        except Exception as exc:  # noqa: BLE001 - closing at shutdown: nothing left to do
            log.debug("ending the kubernetes watches: %s", exc)
        if client is not None:
            try:
                asyncio.run_coroutine_threadsafe(client.close(), loop).result(timeout=5)
            except Exception as exc:  # noqa: BLE001 - closing at shutdown: nothing left to do
                log.debug("closing the kubernetes client: %s", exc)
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=5)
        loop.close()

    # -- calls -----------------------------------------------------------------------------------

    def apply(self, obj: Object, *, force: bool = True) -> Object:
        """Server-side apply under our field manager; our declared fields win when `force`."""
        res = resource_of(obj)

        async def call(client: Any) -> Object:
            # lightkube reads the namespace of a namespaced object from its metadata.
            done = await client.apply(res.from_dict(obj), field_manager=FIELD_MANAGER, force=force)
            return dict(done.to_dict())

        try:
            return self.run(describe(obj), call)
        except NotFoundInCluster as exc:
            hint = (
                " (install the Gateway API CRDs, or set DEMO_KUBERNETES_ROUTE_KIND=ingress)"
                if obj.get("kind") == "HTTPRoute"
                else ""
            )
            raise PermanentError(
                f"{exc}: the cluster serves no {obj.get('kind')} {obj.get('apiVersion')} there"
                + hint
            ) from exc

    def merge_patch(self, kind_of: Object, name: str, patch: Object) -> Object:
        res = resource_of(kind_of)

        async def call(client: AsyncClient) -> Object:
            done = await client.patch(
                res, name, patch, patch_type=PatchType.MERGE, field_manager=FIELD_MANAGER
            )
            return dict(done.to_dict())

        try:
            return self.run(f"{kind_of['kind']} {name}", call)
        except NotFoundInCluster as exc:
            raise PermanentError(str(exc)) from exc

    def get(self, kind_of: Object, name: str, namespace: str | None = None) -> Object | None:
        res = resource_of(kind_of)

        async def call(client: AsyncClient) -> Object:
            kwargs = {"namespace": namespace} if namespace else {}
            found = await client.get(res, name, **kwargs)
            return dict(found.to_dict())

        try:
            return self.run(f"{kind_of['kind']} {namespace or ''}/{name}".replace(" /", " "), call)
        except NotFoundInCluster:
            return None

    def list(
        self, kind_of: Object, *, labels: dict[str, str], namespace: str | None = None
    ) -> list[Object]:
        res = resource_of(kind_of)
        where = f" in {namespace}" if namespace else ""

        async def call(client: AsyncClient) -> list[Object]:
            kwargs: dict[str, Any] = {"labels": labels}
            if namespace:
                kwargs["namespace"] = namespace
            return [dict(item.to_dict()) async for item in client.list(res, **kwargs)]

        try:
            return self.run(f"list of {kind_of['kind']}{where}", call)
        except NotFoundInCluster:
            return []  # the namespace, or the kind's API, is not there: nothing of ours in it

    def pod_log(self, name: str, namespace: str, *, tail: int) -> str:
        """The last `tail` lines of a pod's (only) container."""

        async def call(client: Any) -> str:
            lines = [line async for line in client.log(name, namespace=namespace, tail_lines=tail)]
            return "".join(lines)

        try:
            return self.run(f"log of Pod {namespace}/{name}", call)
        except NotFoundInCluster:
            return ""

    def delete(
        self,
        kind_of: Object,
        name: str,
        namespace: str | None = None,
        *,
        background: bool = False,
    ) -> bool:
        """Delete one object; False when it was already gone. `background`: the object goes at
        once and what it owns (a Job's pods) after it (propagationPolicy Background)."""
        res = resource_of(kind_of)

        async def call(client: Any) -> None:
            kwargs: dict[str, Any] = {"namespace": namespace} if namespace else {}
            if background:
                kwargs["cascade"] = CascadeType.BACKGROUND
            await client.delete(res, name, **kwargs)

        try:
            self.run(f"{kind_of['kind']} {name}", call)
        except NotFoundInCluster:
            return False
        return True

    # -- watches ---------------------------------------------------------------------------------

    def follow(
        self,
        kind_of: Object,
        *,
        namespace: str | None,
        labels: dict[str, str] | None = None,
        fields: dict[str, str] | None = None,
        on_list: Callable[[Objects], None],
        on_event: Callable[[str, Object], None],
        seconds: float,
        server_timeout: int = 60,
    ) -> Future[None]:
        """Watch objects of a kind until `seconds` pass or the returned future is cancelled:
        `on_list` gets the whole state (at the start and after each 410), `on_event` each change
        (type, object), both on the loop thread. The future ends with our error if the API fails
        (a watch that cannot go on: the caller starts another when it needs one)."""
        res = resource_of(kind_of)
        where = f" in {namespace}" if namespace else ""
        what = f"watch of {kind_of['kind']}{where}"
        loop = self._start()
        assert self._client is not None
        client: Any = self._client
        selector: dict[str, Any] = {"namespace": namespace} if namespace else {}
        if labels:
            selector["labels"] = labels

        def gone(exc: Exception, count: int) -> OnErrorResult:
            if isinstance(exc, ApiError) and exc.status.code == 410:
                raise _Gone from exc
            return OnErrorResult(OnErrorAction.RAISE)

        async def run() -> None:
            while True:
                listing = client.list(res, **selector, **({"fields": fields} if fields else {}))
                items = [dict(item.to_dict()) async for item in listing]
                on_list(items)
                try:
                    async for kind, obj in client.watch(
                        res,
                        **selector,
                        **({"fields": fields} if fields else {}),
                        server_timeout=server_timeout,
                        resource_version=listing.resourceVersion,
                        on_error=gone,
                    ):
                        on_event(kind, dict(obj.to_dict()))
                except _Gone:
                    log.info("%s: resourceVersion too old (410 Gone), listing again", what)

        async def bounded() -> None:
            try:
                await asyncio.wait_for(run(), timeout=seconds)
            except TimeoutError:
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                mapped = map_error(exc, what, self.name)
                if mapped is exc:
                    raise
                raise mapped from exc

        return asyncio.run_coroutine_threadsafe(bounded(), loop)

    def wait_gone(
        self,
        kind_of: Object,
        name: str,
        *,
        seconds: float,
        give_up: Callable[[Object], bool] = lambda _: False,
    ) -> Object | None:
        """Watch one cluster-scoped object (by field selector) until it is deleted, for at most
        `seconds` or until `give_up(object)`: None when it is gone, else the last state seen."""
        last: dict[str, Object | None] = {"obj": None}
        done = threading.Event()
        stop = threading.Event()

        def listed(items: Objects) -> None:
            last["obj"] = items[0] if items else None
            if not items:
                done.set()
            elif give_up(items[0]):
                stop.set()

        def changed(kind: str, obj: Object) -> None:
            if kind == "BOOKMARK":
                return
            last["obj"] = None if kind == "DELETED" else obj
            if kind == "DELETED":
                done.set()
            elif give_up(obj):
                stop.set()

        started = time.monotonic()
        watch = self.follow(
            kind_of,
            namespace=None,
            fields={"metadata.name": name},
            on_list=listed,
            on_event=changed,
            seconds=seconds,
            server_timeout=max(1, int(seconds)),
        )
        try:
            while not done.wait(0.05) and not stop.is_set():
                if watch.done():
                    watch.result()  # our error, if the watch failed
                    break
                if time.monotonic() - started > seconds + self.timeout_seconds:
                    break
        finally:
            watch.cancel()
        return None if done.is_set() else last["obj"]
