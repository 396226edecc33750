"""A local stand-in for a Kubernetes API server, keeping its documented semantics for what the
`kubernetes` runtime uses. No cluster runs on this machine; the provider talks to this over real
HTTP through a kubeconfig file, exactly as it would to a cluster (the transport is never patched).

What it keeps (https://kubernetes.io/docs/reference/using-api/api-concepts/):
- REST paths: `/api/v1/...` and `/apis/<group>/<version>/...`, namespaced and cluster-scoped,
  GET of one object, LIST with `labelSelector` (`k=v`, `k!=v`, `k`, `!k`), DELETE;
- server-side apply: PATCH `application/apply-patch+yaml` with a required `fieldManager`; each
  manager owns the fields it applied; a field another manager owns with a different value is a
  409 conflict unless `force=true` (which takes it over); fields a manager stops applying are
  removed; `metadata.generation` moves when the spec changes. Merge patch
  (`application/merge-patch+json`) updates fields under its manager;
- namespaces: DELETE moves one to `Terminating` (deletionTimestamp, the `kubernetes`
  finalizer; a second DELETE meanwhile is a 409); `terminating_seconds` later it and everything in it are gone, unless the test made
  it stuck (then it stays, with the conditions the namespace controller sets). Nothing can be
  created in a terminating namespace (403), nor in a missing one (404);
- Deployments have no status until the test (or `auto_available`) makes them available;
- watch: a LIST path with `?watch=true` streams one JSON line per event, `{"type": ADDED |
  MODIFIED | DELETED | BOOKMARK | ERROR, "object": ...}`, chunked, until `timeoutSeconds` (then
  the server closes it, as the real one does). Every object and every list carries a
  `resourceVersion` (one counter for the whole server); a watch from version N gets the events
  after N; without one (or "0") it first gets a synthetic ADDED for every object that matches.
  The server keeps `history_limit` events: a version older than that (or older than `compact()`)
  is `410 Gone` ("too old resource version"), sent as an ERROR event the way the API server does;
  `allowWatchBookmarks=true` gets a BOOKMARK with the current version before the close.
  `fieldSelector` takes `metadata.name=` and `metadata.namespace=`, on LIST and watch;
- Jobs: `spec.template` is immutable once created: an apply that changes it is a 422 (`field is
  immutable`), as for the real `batch/v1` Job; DELETE takes `propagationPolicy` (recorded);
- any answer can be forced: `fail(409|422|403|429|500, ...)` gives a `Status` body like the
  API server's, with Retry-After on 429.
"""

from __future__ import annotations

import copy
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

Object = dict[str, Any]
Key = tuple[str, str, str, str]  # (api prefix, namespace or "", plural, name)
Path_ = tuple[str, ...]

KINDS = {
    "namespaces": "Namespace",
    "pods": "Pod",
    "configmaps": "ConfigMap",
    "secrets": "Secret",
    "services": "Service",
    "serviceaccounts": "ServiceAccount",
    "persistentvolumeclaims": "PersistentVolumeClaim",
    "resourcequotas": "ResourceQuota",
    "limitranges": "LimitRange",
    "deployments": "Deployment",
    "statefulsets": "StatefulSet",
    "jobs": "Job",
    "networkpolicies": "NetworkPolicy",
    "ingresses": "Ingress",
    "httproutes": "HTTPRoute",
}
REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
}
SYSTEM_META = {
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "managedFields",
}


@dataclass
class WatchStream:
    """A watch the HTTP handler streams: what it selects and from which version."""

    prefix: str
    namespace: str
    plural: str
    labels: str
    fields: str
    since: int
    timeout: float
    bookmarks: bool
    initial: list[Object]  # synthetic ADDED events (a watch without a version)
    error: Object | None = None  # a 410 sent as an ERROR event, then the end


class ApiAnswer(Exception):
    def __init__(self, code: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = headers or {}


def status_body(code: int, message: str) -> Object:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success" if code < 400 else "Failure",
        "message": message,
        "reason": REASONS.get(code, ""),
        "code": code,
    }


def _flatten(obj: Object, prefix: Path_ = ()) -> dict[Path_, Any]:
    """Leaf paths of the fields an apply sets (lists are atomic, as with `atomic` list types)."""
    out: dict[Path_, Any] = {}
    for key, value in obj.items():
        here = (*prefix, key)
        if here in (("status",),) or (prefix == ("metadata",) and key in SYSTEM_META):
            continue
        if isinstance(value, dict) and value:
            out.update(_flatten(value, here))
        else:
            out[here] = value
    return out


def _lookup(obj: Object, path: Path_) -> Any:
    for part in path:
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


def _set(obj: Object, path: Path_, value: Any) -> None:
    for part in path[:-1]:
        obj = obj.setdefault(part, {})
    obj[path[-1]] = copy.deepcopy(value)


def _remove(obj: Object, path: Path_) -> None:
    parents = [obj]
    for part in path[:-1]:
        nxt = parents[-1].get(part)
        if not isinstance(nxt, dict):
            return
        parents.append(nxt)
    parents[-1].pop(path[-1], None)
    for depth in range(len(path) - 1, 0, -1):  # drop emptied maps
        if parents[depth] == {}:
            parents[depth - 1].pop(path[depth - 1], None)


def _merge(target: Object, patch: Object) -> None:
    """RFC 7386 JSON merge patch."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def _matches(labels: dict[str, str], selector: str) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k) == v:
                return False
        elif "=" in term:
            k, v = term.split("=", 1)
            if labels.get(k.rstrip("=")) != v:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def _fields_match(obj: Object, selector: str) -> bool:
    meta = obj.get("metadata") or {}
    for term in filter(None, (t.strip() for t in selector.split(","))):
        negate = "!=" in term
        k, v = term.split("!=" if negate else "=", 1)
        k = k.rstrip("=")
        if k not in ("metadata.name", "metadata.namespace"):
            raise ApiAnswer(400, f"field label not supported: {k}")
        found = meta.get(k.split(".", 1)[1], "")
        if (found == v) == negate:
            return False
    return True


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (an orchestrator killed mid-call) is no error of the fake."""
        import sys

        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


@dataclass
class Failure:
    code: int
    method: str | None
    path_contains: str | None
    times: int
    message: str
    retry_after: int | None


@dataclass
class FakeKubeApi:
    """The fake API server; `start()` serves it on 127.0.0.1, `kubeconfig(path)` points at it."""

    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    terminating_seconds: float = 0.1
    auto_available: bool = False
    objects: dict[Key, Object] = field(default_factory=dict)
    managers: dict[Key, dict[str, set[Path_]]] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, list[str]], str]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    stuck: dict[str, list[Object]] = field(default_factory=dict)
    pod_logs: dict[tuple[str, str], str] = field(default_factory=dict)  # (namespace, pod) -> text
    history_limit: int = 10_000  # events kept for watches from a version (etcd's compaction)
    # (resourceVersion, type, key, object) of every change, the oldest dropped past the limit
    history: list[tuple[int, str, Key, Object]] = field(default_factory=list)
    answers: list[tuple[str, str, int]] = field(default_factory=list)  # (method, path, code)
    watches_served: int = 0  # watch requests answered (tests see the runtime watched)
    deletes: list[tuple[str, str, str]] = field(default_factory=list)  # (path, policy, body)
    _deleting: dict[str, float] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _version: int = 0  # the server's one counter behind every resourceVersion
    _server: ThreadingHTTPServer | None = None
    _connections: set[socket.socket] = field(default_factory=set)
    _floor: int = 0  # the oldest version a watch may start from
    _changed: threading.Condition | None = None
    _stopping: bool = False

    # -- serving -----------------------------------------------------------------------------

    def start(self, port: int = 0) -> str:
        """Serve on 127.0.0.1 (`port` 0: any free one; the old one to come back after `stop`)."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def setup(self) -> None:
                super().setup()
                with fake._lock:
                    fake._connections.add(self.connection)

            def finish(self) -> None:
                with fake._lock:
                    fake._connections.discard(self.connection)
                super().finish()

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers: dict[str, str] = {}
                try:
                    code, payload = fake.handle(
                        self.command,
                        self.path,
                        self.headers.get("Content-Type", ""),
                        body,
                        self.headers.get("Authorization", ""),
                    )
                except ApiAnswer as answer:
                    code, payload, headers = (
                        answer.code,
                        status_body(answer.code, answer.message),
                        answer.headers,
                    )
                with fake._lock:
                    fake.answers.append((self.command, self.path.split("?", 1)[0], code))
                if isinstance(payload, WatchStream):
                    self._stream(payload)
                    return
                text = isinstance(payload, str)  # a pod's log
                data = (
                    payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
                )
                self.send_response(code)
                self.send_header("Content-Type", "text/plain" if text else "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, watch: WatchStream) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    for event in fake._events(watch):
                        line = json.dumps(event).encode() + b"\n"
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except OSError:
                    self.close_connection = True  # the client went away

            do_GET = do_PATCH = do_DELETE = do_POST = do_PUT = _answer

        with self._lock:
            self._stopping = False
        self._server = _Server(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self.url

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def stop(self) -> None:
        """Gone like a server that died: kept-alive connections (and watches) are cut too."""
        with self._lock:
            self._stopping = True
            self._condition().notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        with self._lock:
            connections, self._connections = set(self._connections), set()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the client

    def kubeconfig(self, path: Path, *, context: str = "fake") -> Path:
        path.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": context, "cluster": {"server": self.url}}],
                    "users": [{"name": context, "user": {"token": self.token}}],
                    "contexts": [
                        {"name": context, "context": {"cluster": context, "user": context}}
                    ],
                    "current-context": context,
                }
            )
        )
        return path

    # -- test controls -----------------------------------------------------------------------

    def fail(
        self,
        code: int,
        *,
        method: str | None = None,
        path_contains: str | None = None,
        times: int = 1,
        message: str = "injected by the test",
        retry_after: int | None = None,
    ) -> None:
        with self._lock:
            self.failures.append(Failure(code, method, path_contains, times, message, retry_after))

    def stick(self, namespace: str, finalizer: str = "example.com/cleanup") -> None:
        """Make the namespace stay Terminating once deleted, as with a finalizer no one removes."""
        self.stuck[namespace] = [
            {
                "type": "NamespaceFinalizersRemaining",
                "status": "True",
                "reason": "SomeFinalizersRemain",
                "message": f"Some content in the namespace has finalizers remaining: "
                f"{finalizer} in 1 resource instances",
            },
            {
                "type": "NamespaceContentRemaining",
                "status": "True",
                "reason": "SomeResourcesRemain",
                "message": "Some resources are remaining: configmaps. has 1 resource instances",
            },
        ]

    def set_available(self, namespace: str, name: str, available: bool = True) -> None:
        with self._lock:
            self._reap()
            key = ("apis/apps/v1", namespace, "deployments", name)
            obj = self.objects[key]
            self._deployment_status(obj, available)
            self._touch(key, obj, spec_changed=False)

    def get(self, prefix: str, namespace: str, plural: str, name: str) -> Object | None:
        with self._lock:
            self._reap()
            found = self.objects.get((prefix, namespace, plural, name))
            return copy.deepcopy(found) if found else None

    def names(self, namespace: str) -> set[tuple[str, str]]:
        """(plural, name) of every object in a namespace."""
        with self._lock:
            self._reap()
            return {(k[2], k[3]) for k in self.objects if k[1] == namespace}

    def namespaces(self) -> set[str]:
        with self._lock:
            self._reap()
            return {k[3] for k in self.objects if k[2] == "namespaces"}

    # -- the API -----------------------------------------------------------------------------

    def handle(
        self, method: str, raw_path: str, content_type: str, body: bytes, auth: str
    ) -> tuple[int, Any]:
        parts = urlsplit(raw_path)
        query = parse_qs(parts.query)
        with self._lock:
            self.requests.append((method, parts.path, query, content_type))
            if auth != f"Bearer {self.token}":
                raise ApiAnswer(401, "Unauthorized")
            self._inject(method, parts.path)
            self._reap()
            prefix, namespace, plural, name = self._route(parts.path)
            if method == "GET" and plural == "pods" and parts.path.endswith(f"/{name}/log"):
                self._existing(prefix, namespace, plural, name)
                lines = self.pod_logs.get((namespace, name), "").splitlines(keepends=True)
                tail = int((query.get("tailLines") or ["0"])[0] or 0)
                return 200, "".join(lines[-tail:] if tail else lines)
            if method == "GET" and name:
                return 200, self._public(self._existing(prefix, namespace, plural, name))
            if method == "GET" and (query.get("watch") or [""])[0] in ("true", "1"):
                return 200, self._watch(prefix, namespace, plural, query)
            if method == "GET":
                return 200, self._list(prefix, namespace, plural, query)
            if method == "PATCH" and name:
                return self._patch(prefix, namespace, plural, name, content_type, body, query)
            if method == "DELETE" and name:
                options = json.loads(body or b"{}") if body else {}
                policy = (query.get("propagationPolicy") or [""])[0] or str(
                    options.get("propagationPolicy") or ""
                )
                self.deletes.append((parts.path, policy, body.decode(errors="replace")))
                return 200, self._delete(prefix, namespace, plural, name)
            raise ApiAnswer(405, f"{method} {parts.path} is not served by the fake")

    def _inject(self, method: str, path: str) -> None:
        for failure in self.failures:
            if failure.times <= 0:
                continue
            if failure.method and failure.method != method:
                continue
            if failure.path_contains and failure.path_contains not in path:
                continue
            failure.times -= 1
            headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after else {}
            raise ApiAnswer(failure.code, failure.message, headers)

    @staticmethod
    def _route(path: str) -> Key:
        segments = [s for s in path.split("/") if s]
        if segments[:2] == ["api", "v1"]:
            prefix, rest = "api/v1", segments[2:]
        elif segments[:1] == ["apis"] and len(segments) >= 3:
            prefix, rest = "/".join(segments[:3]), segments[3:]
        else:
            raise ApiAnswer(404, f"the server could not find the requested resource ({path})")
        if rest[:1] == ["namespaces"] and len(rest) >= 3:
            namespace, plural = rest[1], rest[2]
            return prefix, namespace, plural, rest[3] if len(rest) > 3 else ""
        if len(rest) in (1, 2):
            return prefix, "", rest[0], rest[1] if len(rest) == 2 else ""
        raise ApiAnswer(404, f"the server could not find the requested resource ({path})")

    def _existing(self, prefix: str, namespace: str, plural: str, name: str) -> Object:
        found = self.objects.get((prefix, namespace, plural, name))
        if found is None:
            raise ApiAnswer(404, f'{plural} "{name}" not found')
        return found

    def _public(self, obj: Object) -> Object:
        return copy.deepcopy(obj)

    def _list(
        self, prefix: str, namespace: str, plural: str, query: dict[str, list[str]]
    ) -> Object:
        selector = (query.get("labelSelector") or [""])[0]
        fields = (query.get("fieldSelector") or [""])[0]
        items = [
            self._public(obj)
            for key, obj in sorted(self.objects.items())
            if self._selects(key, obj, prefix, namespace, plural, selector, fields)
        ]
        for item in items:  # a LIST's items carry no apiVersion and kind
            item.pop("apiVersion", None)
            item.pop("kind", None)
        return {
            "apiVersion": prefix.removeprefix("apis/").removeprefix("api/"),
            "kind": f"{KINDS.get(plural, plural)}List",
            "metadata": {"resourceVersion": str(self._version)},
            "items": items,
        }

    def _patch(
        self,
        prefix: str,
        namespace: str,
        plural: str,
        name: str,
        content_type: str,
        body: bytes,
        query: dict[str, list[str]],
    ) -> tuple[int, Object]:
        manager = (query.get("fieldManager") or [""])[0]
        key = (prefix, namespace, plural, name)
        if content_type.startswith("application/apply-patch+yaml"):
            if not manager:
                raise ApiAnswer(400, "PATCH with apply requires a fieldManager")
            applied = yaml.safe_load(body) or {}
            force = (query.get("force") or ["false"])[0] == "true"
            return self._apply(key, applied, manager, force)
        if content_type.startswith("application/merge-patch+json"):
            obj = self._existing(*key)
            before = copy.deepcopy(obj.get("spec"))
            patch = json.loads(body or b"{}")
            _merge(obj, patch)
            owned = self.managers.setdefault(key, {}).setdefault(manager or "unknown", set())
            owned.update(_flatten(patch))
            self._touch(key, obj, spec_changed=obj.get("spec") != before)
            return 200, self._public(obj)
        raise ApiAnswer(415, f"the fake does not take Content-Type {content_type}")

    def _apply(self, key: Key, applied: Object, manager: str, force: bool) -> tuple[int, Object]:
        _, namespace, plural, name = key
        meta = applied.get("metadata") or {}
        if meta.get("name") != name:
            raise ApiAnswer(
                400, f"the name of the object ({meta.get('name')}) does not match {name}"
            )
        if namespace and meta.get("namespace", namespace) != namespace:
            raise ApiAnswer(400, "the namespace of the object does not match the request")
        if KINDS.get(plural) and applied.get("kind") != KINDS[plural]:
            raise ApiAnswer(400, f"kind {applied.get('kind')} sent to {plural}")
        fields = _flatten(applied)
        existing = self.objects.get(key)
        if existing is None:
            if namespace:
                owner_ns = self.objects.get(("api/v1", "", "namespaces", namespace))
                if owner_ns is None:
                    raise ApiAnswer(404, f'namespaces "{namespace}" not found')
                if owner_ns["metadata"].get("deletionTimestamp"):
                    raise ApiAnswer(
                        403,
                        f'{plural} "{name}" is forbidden: unable to create new content in '
                        f"namespace {namespace} because it is being terminated",
                    )
            obj = copy.deepcopy(applied)
            obj["metadata"].update(uid=str(uuid.uuid4()), generation=1, creationTimestamp=_now())
            if namespace:
                obj["metadata"]["namespace"] = namespace
            if plural == "namespaces":
                obj["status"] = {"phase": "Active"}
            self.objects[key] = obj
            self.managers[key] = {manager: set(fields)}
            if plural == "deployments":
                self._deployment_status(obj, self.auto_available)
            self._touch(key, obj, spec_changed=False, event="ADDED")
            return 201, self._public(obj)
        owners = self.managers.setdefault(key, {})
        conflicts = [
            (other, path)
            for other, paths in owners.items()
            if other != manager
            for path in paths
            if path in fields and _lookup(existing, path) != fields[path]
        ]
        if conflicts and not force:
            listed = "; ".join(f'conflict with "{m}": .{".".join(p)}' for m, p in conflicts)
            raise ApiAnswer(409, f"Apply failed with {len(conflicts)} conflict(s): {listed}")
        if plural == "jobs":
            self._refuse_template_change(key, existing, fields, owners, manager)
        for other, path in conflicts:
            owners[other].discard(path)
        before = copy.deepcopy(existing.get("spec"))
        others = set().union(*(p for m, p in owners.items() if m != manager))
        for path in owners.get(manager, set()) - set(fields) - others:
            _remove(existing, path)
        for path, value in fields.items():
            _set(existing, path, value)
        owners[manager] = set(fields)
        changed = existing.get("spec") != before
        if changed:
            meta = existing["metadata"]
            meta["generation"] = int(meta.get("generation", 1)) + 1
        if plural == "deployments" and changed:
            self._deployment_status(existing, self.auto_available)
        self._touch(key, existing, spec_changed=False)
        return 200, self._public(existing)

    def _refuse_template_change(
        self, key: Key, existing: Object, fields: dict[Path_, Any], owners: Any, manager: str
    ) -> None:
        """A Job's pod template is immutable: the API server answers 422 to a change of it."""
        after = copy.deepcopy(existing)
        others = set().union(*(p for m, p in owners.items() if m != manager))
        for path in owners.get(manager, set()) - set(fields) - others:
            _remove(after, path)
        for path, value in fields.items():
            _set(after, path, value)
        before_template = (existing.get("spec") or {}).get("template")
        if (after.get("spec") or {}).get("template") != before_template:
            raise ApiAnswer(
                422,
                f'Job.batch "{key[3]}" is invalid: spec.template: Invalid value: '
                '{"metadata":...,"spec":...}: field is immutable',
            )

    def _touch(self, key: Key, obj: Object, *, spec_changed: bool, event: str = "MODIFIED") -> None:
        """A change of `obj`: a new resourceVersion, and the event watches see."""
        meta = obj["metadata"]
        if spec_changed:
            meta["generation"] = int(meta.get("generation", 1)) + 1
        self._event(event, key, obj)

    def _event(self, kind: str, key: Key, obj: Object) -> None:
        self._version += 1
        obj.setdefault("metadata", {})["resourceVersion"] = str(self._version)
        self.history.append((self._version, kind, key, copy.deepcopy(obj)))
        if len(self.history) > self.history_limit:
            dropped = self.history[: len(self.history) - self.history_limit]
            del self.history[: len(dropped)]
            self._floor = dropped[-1][0]
        self._condition().notify_all()

    def _condition(self) -> threading.Condition:
        if self._changed is None:
            self._changed = threading.Condition(self._lock)
        return self._changed

    def compact(self) -> None:
        """Forget every event so far (etcd compacted): a watch from an older version is 410."""
        with self._lock:
            self.history.clear()
            self._floor = self._version

    # -- watch ---------------------------------------------------------------------------------

    @staticmethod
    def _selects(
        key: Key, obj: Object, prefix: str, namespace: str, plural: str, labels: str, fields: str
    ) -> bool:
        return (
            key[0] == prefix
            and key[2] == plural
            and (not namespace or key[1] == namespace)
            and _matches(obj.get("metadata", {}).get("labels") or {}, labels)
            and _fields_match(obj, fields)
        )

    def _watch(
        self, prefix: str, namespace: str, plural: str, query: dict[str, list[str]]
    ) -> WatchStream:
        labels = (query.get("labelSelector") or [""])[0]
        fields = (query.get("fieldSelector") or [""])[0]
        _fields_match({}, fields)  # a field the fake does not know: 400 before streaming
        given = (query.get("resourceVersion") or [""])[0]
        timeout = float((query.get("timeoutSeconds") or ["1800"])[0] or 1800)
        bookmarks = (query.get("allowWatchBookmarks") or [""])[0] == "true"
        self.watches_served += 1
        watch = WatchStream(
            prefix, namespace, plural, labels, fields, self._version, timeout, bookmarks, []
        )
        if given in ("", "0"):
            for key, obj in sorted(self.objects.items()):
                if self._selects(key, obj, prefix, namespace, plural, labels, fields):
                    watch.initial.append({"type": "ADDED", "object": self._public(obj)})
            return watch
        try:
            since = int(given)
        except ValueError as exc:
            raise ApiAnswer(400, f"invalid resourceVersion {given!r}") from exc
        if since < self._floor:
            watch.error = {
                "type": "ERROR",
                "object": status_body(410, f"too old resource version: {since} ({self._floor + 1})")
                | {"reason": "Expired"},
            }
        watch.since = since
        return watch

    def _events(self, watch: WatchStream) -> Iterator[Object]:
        """What one watch streams, until its time-out, the server's stop, or a 410."""
        yield from watch.initial
        if watch.error is not None:
            yield watch.error
            return
        deadline = time.monotonic() + watch.timeout
        since = watch.since
        while True:
            with self._lock:
                self._reap()
                if since < self._floor:
                    yield {
                        "type": "ERROR",
                        "object": status_body(410, f"too old resource version: {since}")
                        | {"reason": "Expired"},
                    }
                    return
                found = []
                for version, kind, key, obj in self.history:
                    if version <= since:
                        continue
                    since = version
                    if self._selects(
                        key,
                        obj,
                        watch.prefix,
                        watch.namespace,
                        watch.plural,
                        watch.labels,
                        watch.fields,
                    ):
                        found.append({"type": kind, "object": self._public(obj)})
                left = deadline - time.monotonic()
                if not found and not self._stopping and left > 0:
                    # the namespace controller's reaping is due by time, not by a request
                    self._condition().wait(min(left, 0.05))
                    continue
                stopping, current = self._stopping, self._version
            yield from found
            if stopping:
                return
            if time.monotonic() >= deadline:
                if watch.bookmarks:
                    yield {
                        "type": "BOOKMARK",
                        "object": {
                            "kind": KINDS.get(watch.plural, watch.plural),
                            "apiVersion": watch.prefix.removeprefix("apis/").removeprefix("api/"),
                            "metadata": {"resourceVersion": str(current)},
                        },
                    }
                return

    @staticmethod
    def _deployment_status(obj: Object, available: bool) -> None:
        replicas = (obj.get("spec") or {}).get("replicas", 1)
        generation = obj["metadata"].get("generation", 1)
        if available:
            obj["status"] = {
                "observedGeneration": generation,
                "replicas": replicas,
                "readyReplicas": replicas,
                "availableReplicas": replicas,
                "updatedReplicas": replicas,
                "conditions": [
                    {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                ],
            }
        else:
            obj["status"] = {"observedGeneration": generation, "replicas": replicas}

    def _delete(self, prefix: str, namespace: str, plural: str, name: str) -> Object:
        key = (prefix, namespace, plural, name)
        obj = self._existing(*key)
        if plural != "namespaces":
            del self.objects[key]
            self.managers.pop(key, None)
            self._event("DELETED", key, obj)
            return status_body(200, f"{plural} {name} deleted")
        if obj["metadata"].get("deletionTimestamp"):
            raise ApiAnswer(
                409,
                f'Operation cannot be fulfilled on namespaces "{name}": The system is ensuring '
                "all content is removed from this namespace.  Upon completion, this namespace "
                "will automatically be purged by the system.",
            )
        obj["metadata"]["deletionTimestamp"] = _now()
        obj.setdefault("spec", {})["finalizers"] = ["kubernetes"]
        obj["status"] = {"phase": "Terminating"}
        self._deleting[name] = time.monotonic() + self.terminating_seconds
        self._touch(key, obj, spec_changed=False)
        return self._public(obj)

    def _reap(self) -> None:
        """The namespace controller: empties and removes namespaces whose time has come."""
        now = time.monotonic()
        for name, due in list(self._deleting.items()):
            if now < due:
                continue
            key = ("api/v1", "", "namespaces", name)
            if name in self.stuck:
                obj = self.objects.get(key)
                if obj is not None and obj["status"].get("conditions") != self.stuck[name]:
                    obj["status"]["conditions"] = copy.deepcopy(self.stuck[name])
                    self._touch(key, obj, spec_changed=False)
                continue
            del self._deleting[name]
            for inner in [k for k in self.objects if k[1] == name]:
                self._event("DELETED", inner, self.objects.pop(inner))
                self.managers.pop(inner, None)
            gone = self.objects.pop(key, None)
            self.managers.pop(key, None)
            if gone is not None:
                gone["spec"]["finalizers"] = []
                self._event("DELETED", key, gone)

    def terminate_now(self, namespace: str) -> None:
        """The namespace controller finishes a terminating namespace at its next look."""
        with self._lock:
            if namespace in self._deleting:
                self._deleting[namespace] = 0.0
            self._condition().notify_all()

    def unstick(self, namespace: str) -> None:
        """The finalizer is removed: the namespace finishes terminating."""
        with self._lock:
            self.stuck.pop(namespace, None)
