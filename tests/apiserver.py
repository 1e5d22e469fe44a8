"""A small in-process HTTP/1.1 API server for the Locust harness (stdlib only).

Every request is counted under a *route name* (``("GET", "/v1/products/{id}")``) when it is
handled, before the response is written, and every response is counted by status per route.
The tests compare these counts with the per-name counts Locust reports.

Connections are persistent (``protocol_version = "HTTP/1.1"``, Content-Length always sent), so a
FastHttpUser keeps one connection per user for the whole run, as against a real API.
"""

from __future__ import annotations

import gzip
import json
import re
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_KEY = "test-key"

# (method, regex) -> route name; the first match wins.
_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (method, re.compile(pattern), name)
    for method, pattern, name in [
        ("GET", r"/health", "/health"),
        ("GET", r"/v1/products", "/v1/products"),
        ("POST", r"/v1/products", "/v1/products"),
        ("GET", r"/v1/products/(?P<id>[^/]+)", "/v1/products/{id}"),
        ("POST", r"/v1/login", "/v1/login"),
        ("GET", r"/v1/me", "/v1/me"),
        ("GET", r"/v1/inventory/(?P<id>[^/]+)", "/v1/inventory/{id}"),
        ("GET", r"/v1/pricing/(?P<id>[^/]+)", "/v1/pricing/{id}"),
        ("POST", r"/v1/cart", "/v1/cart"),
        ("POST", r"/v1/orders", "/v1/orders"),
        ("GET", r"/v1/limited", "/v1/limited"),
        ("GET", r"/v1/slow-limited", "/v1/slow-limited"),
        ("GET", r"/v1/hang", "/v1/hang"),
        ("GET", r"/redirect/(?P<n>\d+)", "/redirect/{n}"),
        ("GET", r"/redirect-abs", "/redirect-abs"),
        ("GET", r"/v1/landing", "/v1/landing"),
        ("GET", r"/gzip", "/gzip"),
        ("GET", r"/cookies/set", "/cookies/set"),
        ("GET", r"/cookies/check", "/cookies/check"),
        ("GET", r"/status/(?P<code>\d{3})", "/status/{code}"),
        ("GET", r"/echo-headers", "/echo-headers"),
        ("POST", r"/echo", "/echo"),
    ]
]


def route_for(method: str, path: str) -> tuple[str, dict[str, str]]:
    """Route name and path parameters for a request; unknown routes are named "<404>".

    Redirect hops are named by their concrete path ("/redirect/3", "/redirect/2", ...).
    """
    for route_method, pattern, name in _ROUTES:
        if route_method == method:
            m = pattern.fullmatch(path)
            if m:
                params = m.groupdict()
                if name == "/redirect/{n}":
                    # each hop is its own route, so a test can tell the first hop from the rest
                    return f"/redirect/{int(params['n'])}", params
                return name, params
    return "<404>", {}


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # Head and body leave in one write (buffered wfile, flushed by handle_one_request) with
    # TCP_NODELAY: otherwise Nagle + the client's delayed ACK add ~40 ms to every response.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # silence the default per-request logging

    # --- plumbing -----------------------------------------------------------------------------

    def _dispatch(self) -> None:
        path = self.path.split("?", 1)[0]
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length) if length > 0 else b""
        name, params = route_for(self.command, path)
        self.route = name
        # The test this request belongs to: a response written after the next test's reset()
        # (a hung backend's, 20 s later) is not counted into that test.
        self.generation = self.server.api.count_request(self.command, name)
        template = "/redirect/{n}" if name.startswith("/redirect/") else name
        handler = getattr(self, "_route_" + _method_name(self.command, template), None)
        if handler is None:
            self._send(404, _json_bytes({"error": "not found", "path": path}), "application/json")
        else:
            handler(**params)

    do_GET = _dispatch
    do_POST = _dispatch
    do_PUT = _dispatch
    do_DELETE = _dispatch
    do_PATCH = _dispatch

    def _send(
        self,
        status: int,
        body: bytes = b"",
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.server.api.count_status(self.command, self.route, status, self.generation)
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, _json_bytes(obj), "application/json", headers)

    def _json_body(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def _has_api_key(self) -> bool:
        if self.headers.get("X-Api-Key") == API_KEY:
            return True
        self._json(401, {"error": "missing or wrong X-Api-Key"})
        return False

    def _bearer_user(self) -> str | None:
        auth = self.headers.get("Authorization") or ""
        if auth.startswith("Bearer tok-") and len(auth) > len("Bearer tok-"):
            return auth[len("Bearer tok-") :]
        self._json(401, {"error": "missing or wrong bearer token"})
        return None

    # --- routes -------------------------------------------------------------------------------

    def _route_get_health(self) -> None:
        self._send(200, b"ok", "text/plain")

    def _route_get_v1_products(self) -> None:
        if self._has_api_key():
            self._json(200, {"products": [{"id": i, "name": f"product-{i}"} for i in range(1, 6)]})

    def _route_get_v1_products_id(self, id: str) -> None:  # noqa: A002 - path parameter
        if self._has_api_key():
            self._json(200, {"id": id, "name": f"product-{id}", "price": 9.99})

    def _route_post_v1_products(self) -> None:
        if not self._has_api_key():
            return
        data = self._json_body()
        if not isinstance(data, dict):
            self._json(400, {"error": "expected a JSON object"})
            return
        self._json(201, {**data, "id": self.server.api.next_id()})

    def _route_post_v1_login(self) -> None:
        data = self._json_body()
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("username"), str)
            or not data["username"]
            or not isinstance(data.get("password"), str)
        ):
            self._json(400, {"error": "expected {username, password}"})
            return
        self._json(200, {"token": "tok-" + data["username"]})

    def _route_get_v1_me(self) -> None:
        user = self._bearer_user()
        if user is not None:
            # Which users' tokens arrived: native users each carry their own.
            self.server.api.count_event("me:" + user)
            self._json(200, {"user": user})

    def _route_get_v1_inventory_id(self, id: str) -> None:  # noqa: A002
        if self._bearer_user() is not None:
            self._json(200, {"product": id, "in_stock": 7})

    def _route_get_v1_pricing_id(self, id: str) -> None:  # noqa: A002
        if self._bearer_user() is not None:
            self._json(200, {"product": id, "price": 9.99, "currency": "EUR"})

    def _route_post_v1_cart(self) -> None:
        if self._bearer_user() is None:
            return
        data = self._json_body()
        if not isinstance(data, dict) or "product" not in data or not isinstance(data.get("qty"), int):
            self._json(400, {"error": "expected {product, qty}"})
            return
        self._json(200, {"cart": "c1"})

    def _route_post_v1_orders(self) -> None:
        if self._bearer_user() is None:
            return
        if not isinstance(self._json_body(), dict):
            self._json(400, {"error": "expected a JSON object"})
            return
        self._json(201, {"order": "o1"})

    def _route_get_v1_limited(self) -> None:
        if self.server.api.next_limited() % 3 == 0:
            self._json(429, {"error": "slow down"}, {"Retry-After": "1"})
        else:
            self._json(200, {"ok": True})

    def _route_get_v1_slow_limited(self) -> None:
        # Every request is pushed back, after long enough that users are stopped mid-request.
        time.sleep(0.2)
        self._json(429, {"error": "slow down"}, {"Retry-After": "1"})

    def _route_get_v1_hang(self) -> None:
        # A backend that hangs: far longer than any run that uses it.
        time.sleep(20)
        self._json(200, {"ok": True})

    def _route_get_redirect_n(self, n: str) -> None:
        hops = int(n)
        target = "/v1/landing" if hops <= 0 else f"/redirect/{hops - 1}"
        self._send(302, b"", None, {"Location": target})

    def _route_get_redirect_abs(self) -> None:
        host = self.headers.get("Host") or f"127.0.0.1:{self.server.server_address[1]}"
        self._send(301, b"", None, {"Location": f"http://{host}/v1/landing"})

    def _route_get_v1_landing(self) -> None:
        self._send(200, b"landed", "text/plain")

    def _route_get_gzip(self) -> None:
        body = _json_bytes({"gzipped": True, "items": list(range(50))})
        if "gzip" in (self.headers.get("Accept-Encoding") or "").lower():
            self.server.api.count_event("gzip-encoded")
            self._send(200, gzip.compress(body), "application/json", {"Content-Encoding": "gzip"})
        else:
            self.server.api.count_event("gzip-plain")
            self._send(200, body, "application/json")

    def _route_get_cookies_set(self) -> None:
        self._send(200, b"cookie set", "text/plain", {"Set-Cookie": "session=abc123; Path=/"})

    def _route_get_cookies_check(self) -> None:
        cookies = {}
        for header in self.headers.get_all("Cookie") or []:
            for part in header.split(";"):
                key, sep, value = part.strip().partition("=")
                if sep:
                    cookies[key] = value
        if cookies.get("session") == "abc123":
            self._send(200, b"cookie ok", "text/plain")
        else:
            self._send(400, b"missing cookie", "text/plain")

    def _route_get_status_code(self, code: str) -> None:
        self._send(int(code))

    def _route_get_echo_headers(self) -> None:
        headers: dict[str, str] = {}
        for key, value in self.headers.items():
            headers[key.lower()] = value if key.lower() not in headers else headers[key.lower()] + ", " + value
        self._json(200, headers)

    def _route_post_echo(self) -> None:
        self._send(200, self.body, self.headers.get("Content-Type") or "application/octet-stream")


def _method_name(method: str, route: str) -> str:
    return method.lower() + re.sub(r"[^a-z0-9]+", "_", route.lower()).rstrip("_")


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128
    api: ApiServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that goes away (a killed load generator) is not a server bug: stay quiet.
        # Anything else is kept for the tests to look at instead of printed.
        exc = sys.exc_info()[1]
        if not isinstance(exc, (ConnectionError, TimeoutError)):
            self.api.record_error(f"{client_address}: {exc!r}")


class ApiServer:
    """The API server on 127.0.0.1 (free port), served from a background thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()
        self._statuses: Counter[tuple[str, str, int]] = Counter()
        self._limited = 0
        self._ids = 1000
        self._errors: list[str] = []
        self._events: Counter[str] = Counter()
        self._generation = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> ApiServer:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.api = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="apiserver", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()  # returns once serve_forever's loop has ended (<= poll_interval)
        server.server_close()  # daemon connection threads are not joined (block_on_close False)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- counting -----------------------------------------------------------------------------

    def count_request(self, method: str, name: str) -> int:
        """Counts a request; returns the generation (how many resets so far) it arrived in."""
        with self._lock:
            self._counts[(method, name)] += 1
            return self._generation

    def count_status(self, method: str, name: str, status: int, generation: int) -> None:
        """Counts a response, unless the counters were reset since its request arrived."""
        with self._lock:
            if generation == self._generation:
                self._statuses[(method, name, status)] += 1

    def next_limited(self) -> int:
        """1, 2, 3, ... per server (reset() restarts it): every 3rd /v1/limited answers 429."""
        with self._lock:
            self._limited += 1
            return self._limited

    def next_id(self) -> int:
        with self._lock:
            self._ids += 1
            return self._ids

    def count_event(self, name: str) -> None:
        with self._lock:
            self._events[name] += 1

    def events(self) -> dict[str, int]:
        """Snapshot of named events, e.g. {"gzip-encoded": n, "gzip-plain": n}."""
        with self._lock:
            return dict(self._events)

    def record_error(self, message: str) -> None:
        with self._lock:
            self._errors.append(message)

    def errors(self) -> list[str]:
        """Unexpected exceptions raised while handling requests (none in a healthy run)."""
        with self._lock:
            return list(self._errors)

    def counts(self) -> dict[tuple[str, str], int]:
        """Snapshot {(METHOD, route name): requests handled}."""
        with self._lock:
            return dict(self._counts)

    def statuses(self) -> dict[tuple[str, str, int], int]:
        """Snapshot {(METHOD, route name, status): responses}."""
        with self._lock:
            return dict(self._statuses)

    def reset(self) -> None:
        with self._lock:
            self._generation += 1
            self._counts.clear()
            self._statuses.clear()
            self._errors.clear()
            self._events.clear()
            self._limited = 0
