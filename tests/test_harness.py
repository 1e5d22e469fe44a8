"""Fast checks of the harness itself (no Locust runs): the API server and the runner's helpers."""

from __future__ import annotations

import gzip
import http.client
import json
import time

import pytest
from apiserver import ApiServer
from locust_runner import _split_master, one_line_rewrite, parse_json_stats


class Client:
    """One keep-alive connection to the server (as a FastHttpUser would use)."""

    def __init__(self, server: ApiServer) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)

    def __call__(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        self.conn.request(method, path, body=body, headers=headers or {})
        resp = self.conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def client(api_server: ApiServer):
    c = Client(api_server)
    yield c
    c.close()


KEY = {"X-Api-Key": "test-key"}
BEARER = {"Authorization": "Bearer tok-alice"}


def test_routes_auth_and_counts(client: Client, api_server: ApiServer) -> None:
    assert client("GET", "/health")[::2] == (200, b"ok")
    assert client("GET", "/v1/products")[0] == 401
    assert client("GET", "/v1/products", headers=KEY)[0] == 200
    status, _, body = client("GET", "/v1/products/42", headers=KEY)
    assert status == 200 and json.loads(body)["id"] == "42"
    status, _, body = client("POST", "/v1/products", json.dumps({"name": "w"}).encode(), KEY)
    assert status == 201 and json.loads(body)["name"] == "w" and "id" in json.loads(body)
    assert client("POST", "/v1/products", b"{}")[0] == 401
    status, _, body = client("POST", "/v1/login", json.dumps({"username": "alice", "password": "x"}).encode())
    assert (status, json.loads(body)) == (200, {"token": "tok-alice"})
    assert client("POST", "/v1/login", b"not json")[0] == 400
    assert client("POST", "/v1/login")[0] == 400
    assert client("GET", "/v1/me")[0] == 401
    assert json.loads(client("GET", "/v1/me", headers=BEARER)[2]) == {"user": "alice"}
    assert client("GET", "/v1/inventory/7")[0] == 401
    assert client("GET", "/v1/inventory/7", headers=BEARER)[0] == 200
    assert client("GET", "/v1/pricing/7", headers=BEARER)[0] == 200
    cart = json.dumps({"product": 7, "qty": 2}).encode()
    assert json.loads(client("POST", "/v1/cart", cart, BEARER)[2]) == {"cart": "c1"}
    assert client("POST", "/v1/cart", cart)[0] == 401
    status, _, body = client("POST", "/v1/orders", b'{"cart": "c1"}', BEARER)
    assert (status, json.loads(body)) == (201, {"order": "o1"})
    assert client("GET", "/nope")[0] == 404
    assert client("DELETE", "/v1/products")[0] == 404
    assert api_server.counts() == {
        ("GET", "/health"): 1,
        ("GET", "/v1/products"): 2,
        ("GET", "/v1/products/{id}"): 1,
        ("POST", "/v1/products"): 2,
        ("POST", "/v1/login"): 3,
        ("GET", "/v1/me"): 2,
        ("GET", "/v1/inventory/{id}"): 2,
        ("GET", "/v1/pricing/{id}"): 1,
        ("POST", "/v1/cart"): 2,
        ("POST", "/v1/orders"): 1,
        ("GET", "<404>"): 1,
        ("DELETE", "<404>"): 1,
    }
    assert api_server.statuses()[("GET", "/v1/products", 401)] == 1
    assert api_server.statuses()[("POST", "/v1/login", 400)] == 2
    assert api_server.errors() == []


def test_rate_limit_every_third(client: Client, api_server: ApiServer) -> None:
    results = [client("GET", "/v1/limited") for _ in range(7)]
    assert [r[0] for r in results] == [200, 200, 429, 200, 200, 429, 200]
    assert results[2][1]["Retry-After"] == "1"
    api_server.reset()
    assert [client("GET", "/v1/limited")[0] for _ in range(3)] == [200, 200, 429]


def test_redirects(client: Client, api_server: ApiServer) -> None:
    status, headers, _ = client("GET", "/redirect/2")
    assert (status, headers["Location"]) == (302, "/redirect/1")
    assert client("GET", "/redirect/0")[1]["Location"] == "/v1/landing"
    status, headers, _ = client("GET", "/redirect-abs")
    assert (status, headers["Location"]) == (301, f"{api_server.url}/v1/landing")
    assert client("GET", "/v1/landing")[::2] == (200, b"landed")
    assert api_server.counts()[("GET", "/redirect/2")] == 1


def test_gzip_cookies_status_echo(client: Client, api_server: ApiServer) -> None:
    status, headers, body = client("GET", "/gzip", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert headers["Content-Encoding"] == "gzip" and json.loads(gzip.decompress(body))["gzipped"] is True
    status, headers, body = client("GET", "/gzip")
    assert "Content-Encoding" not in headers and json.loads(body)["gzipped"] is True
    assert api_server.events() == {"gzip-encoded": 1, "gzip-plain": 1}
    status, headers, _ = client("GET", "/cookies/set")
    assert (status, headers["Set-Cookie"]) == (200, "session=abc123; Path=/")
    assert client("GET", "/cookies/check")[0] == 400
    assert client("GET", "/cookies/check", headers={"Cookie": "a=1; session=abc123"})[0] == 200
    status, headers, body = client("GET", "/status/503")
    assert (status, headers["Content-Length"], body) == (503, "0", b"")
    echoed = json.loads(client("GET", "/echo-headers", headers={"X-Thing": "1"})[2])
    assert echoed["x-thing"] == "1" and "host" in echoed
    status, headers, body = client("POST", "/echo", b"hello", {"Content-Type": "text/x-test"})
    assert (status, headers["Content-Type"], body) == (200, "text/x-test", b"hello")


def test_stop_does_not_hang_with_open_connections() -> None:
    server = ApiServer().start()
    idle = Client(server)
    assert idle("GET", "/health")[0] == 200  # leaves a keep-alive connection open
    start = time.monotonic()
    server.stop()
    assert time.monotonic() - start < 2
    idle.close()


def test_one_line_rewrite() -> None:
    src = "import random\n\nfrom locust import FastHttpUser, between, task\n\n\nclass U(FastHttpUser):\n"
    out = one_line_rewrite(src)
    assert "from locust import between, task\nfrom ringload import FastHttpUser\n" in out
    assert "FastHttpUser," not in out
    assert one_line_rewrite("from locust import FastHttpUser\n") == "from ringload import FastHttpUser\n"
    multi = "from locust import (\n    FastHttpUser,\n    SequentialTaskSet,\n    task,\n)\n"
    assert one_line_rewrite(multi) == "from locust import SequentialTaskSet, task\nfrom ringload import FastHttpUser\n"
    with pytest.raises(ValueError):
        one_line_rewrite("from locust import HttpUser, task\n")


def test_parse_json_stats_with_worker_documents() -> None:
    entry = {"name": "/a", "method": "GET", "num_requests": 5, "num_failures": 1}
    stdout = "[]\nsome print from a locustfile\n[\n" + json.dumps(entry) + "\n]\n[]\n"
    docs = parse_json_stats(stdout)
    assert docs == [{}, {("GET", "/a"): {"requests": 5, "failures": 1}}, {}]
    assert _split_master(docs) == ({("GET", "/a"): {"requests": 5, "failures": 1}}, [])
    with pytest.raises(LookupError):
        _split_master(parse_json_stats("no json here\n"))
