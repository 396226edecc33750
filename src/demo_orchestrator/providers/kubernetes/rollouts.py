"""Watched rollouts: the Deployments of each demo whose health gate is waiting, kept up to date
by a watch instead of a LIST per poll.

The first look at a demo starts a watch of its Deployments (by the demo's label, in its
namespace) on the API client's event loop (`Cluster.follow`: a LIST, then a watch from its
resourceVersion, resumed after each server time-out, listed again on 410 Gone). The health gate
reads the state the watch keeps; each change calls `notify(instance_id)`, the engine's hook that
wakes the waiting step at once. A watch lives `WATCH_SECONDS` at most and ends when the demo is
ready, deleted or put to sleep; one that failed (the API went away) is started again by the next
look, which says what failed meanwhile.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass, field
from typing import Any

from demo_orchestrator.domain.errors import DemoError, TemporaryError
from demo_orchestrator.providers.base import Health
from demo_orchestrator.providers.kubernetes.cluster import Cluster

log = logging.getLogger(__name__)

Object = dict[str, Any]
WATCH_SECONDS = 600.0  # one watch's longest life; the next look starts another
SERVER_TIMEOUT_SECONDS = 60  # timeoutSeconds of each watch request (resumed after it)


def judge(instance_id: str, deployments: list[Object]) -> Health:
    """Available when every Deployment has its replicas available at its current generation;
    a Deployment past its progress deadline is a `TemporaryError` (the engine deploys again)."""
    if not deployments:
        return Health(False, f"no Deployment in namespace {instance_id} yet")
    waiting = []
    for deployment in sorted(deployments, key=lambda d: str(d["metadata"]["name"])):
        name = deployment["metadata"]["name"]
        status = deployment.get("status") or {}
        for condition in status.get("conditions") or []:
            if (
                condition.get("type") == "Progressing"
                and condition.get("status") == "False"
                and condition.get("reason") == "ProgressDeadlineExceeded"
            ):
                raise TemporaryError(
                    f"Deployment {instance_id}/{name} did not roll out: "
                    f"{condition.get('message', 'progress deadline exceeded')}"
                )
        wanted = (deployment.get("spec") or {}).get("replicas", 1)
        available = status.get("availableReplicas") or 0
        current = (status.get("observedGeneration") or 0) >= (
            deployment["metadata"].get("generation") or 0
        )
        if available < wanted or not current:
            waiting.append(f"{name} {available}/{wanted} available")
    if waiting:
        return Health(False, "waiting for Deployments: " + ", ".join(waiting))
    return Health(True, f"{len(deployments)} Deployment(s) available")


@dataclass
class Watched:
    """One demo's Deployments as its watch last saw them."""

    deployments: dict[str, Object] = field(default_factory=dict)
    synced: threading.Event = field(default_factory=threading.Event)
    future: Future[None] | None = None
    events: int = 0  # changes seen (lists included)


class Rollouts:
    def __init__(self, cluster: Cluster, kind_of: Object, label: str) -> None:
        self.cluster = cluster
        self.kind_of = kind_of
        self.label = label
        self.notify: Callable[[str], None] | None = None
        self._watched: dict[str, Watched] = {}
        self._lock = threading.Lock()

    def health(self, instance_id: str) -> Health:
        """The rollout as watched (starting the watch on the first look)."""
        watched = self._watch(instance_id)
        if watched.future is not None and watched.future.done() and watched.events == 0:
            watched = self._watch(instance_id)  # it ended before listing: raises what ended it
        if not watched.synced.wait(self.cluster.timeout_seconds * 3):
            self._end(instance_id, watched)
            raise TemporaryError(
                f"watch of Deployments in {instance_id}: no answer from the API of cluster "
                f"{self.cluster.name} within {self.cluster.timeout_seconds * 3:g} s"
            )
        if watched.events == 0:  # it failed before its first LIST answered
            return self.health(instance_id)
        with self._lock:
            deployments = list(watched.deployments.values())
        return judge(instance_id, deployments)

    def watching(self) -> set[str]:
        with self._lock:
            return {i for i, w in self._watched.items() if w.future and not w.future.done()}

    def _watch(self, instance_id: str) -> Watched:
        with self._lock:
            found = self._watched.get(instance_id)
        if found is not None and found.future is not None and found.future.done():
            self._end(instance_id, found)
            self._failed(found.future)  # raises what ended it, once; the next look starts anew
            found = None
        if found is not None:
            return found
        watched = Watched()
        with self._lock:
            self._watched[instance_id] = watched

        def listed(items: list[Object]) -> None:
            with self._lock:
                watched.deployments = {i["metadata"]["name"]: i for i in items}
                watched.events += 1
            watched.synced.set()
            self._changed(instance_id)

        def changed(kind: str, obj: Object) -> None:
            if kind not in ("ADDED", "MODIFIED", "DELETED"):
                return  # BOOKMARK: only a newer resourceVersion, kept by the client
            name = obj["metadata"]["name"]
            with self._lock:
                if kind == "DELETED":
                    watched.deployments.pop(name, None)
                else:
                    watched.deployments[name] = obj
                watched.events += 1
            self._changed(instance_id)

        watched.future = self.cluster.follow(
            self.kind_of,
            namespace=instance_id,
            labels={self.label: instance_id},
            on_list=listed,
            on_event=changed,
            seconds=WATCH_SECONDS,
            server_timeout=SERVER_TIMEOUT_SECONDS,
        )
        watched.future.add_done_callback(lambda _: watched.synced.set())
        return watched

    @staticmethod
    def _failed(future: Future[None]) -> None:
        try:
            future.result()
        except CancelledError:
            return
        except DemoError:
            raise
        except Exception as exc:
            raise TemporaryError(f"the watch of Deployments failed: {exc}") from exc

    def _changed(self, instance_id: str) -> None:
        notify = self.notify
        if notify is None:
            return
        try:
            notify(instance_id)
        except Exception:  # the hook must never end the watch
            log.exception("%s: the engine's hook failed", instance_id)

    def _end(self, instance_id: str, watched: Watched) -> None:
        with self._lock:
            if self._watched.get(instance_id) is watched:
                del self._watched[instance_id]
        if watched.future is not None:
            watched.future.cancel()

    def stop(self, instance_id: str) -> None:
        """No more watching this demo (ready, deleted, asleep)."""
        with self._lock:
            watched = self._watched.get(instance_id)
        if watched is not None:
            self._end(instance_id, watched)

    def close(self) -> None:
        with self._lock:
            every = list(self._watched.items())
        for instance_id, watched in every:
            self._end(instance_id, watched)
