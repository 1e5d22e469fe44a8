"""HTTP proxies: FastHttpUser's ``proxy_host``/``proxy_port`` and HttpUser's ``proxies=`` send
``http://`` requests to the proxy in absolute form and tunnel ``https://`` through CONNECT, with
the proxy URL's credentials; environment proxy variables are not read. The proxy here is a small
gevent one that records what it was asked."""

from __future__ import annotations

import base64
import socket

import gevent
import pytest
from gevent.pywsgi import WSGIServer
from gevent.server import StreamServer
from gevent.socket import create_connection

fasthttp = pytest.importorskip("ringload.contrib.fasthttp")
httpuser = pytest.importorskip("ringload.httpuser")

import requests  # noqa: E402
from locust.clients import HttpSession as LocustHttpSession  # noqa: E402
from locust.event import Events  # noqa: E402
from ringload.testing import TargetServer  # noqa: E402


class Proxy:
    """Forwards one absolute-form request per connection, or tunnels a CONNECT; with
    ``credentials``, answers 407 to a client that does not send them."""

    def __init__(self, credentials: str | None = None):
        self.seen: list[tuple[str, str, dict]] = []  # (method, target, headers)
        self.expected = "Basic " + base64.b64encode(credentials.encode()).decode() if credentials else None
        self.server = StreamServer(("127.0.0.1", 0), self._handle)
        self.server.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def _handle(self, client, _address):
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(4096)
            if not chunk:
                return
            head += chunk
        head, rest = head.split(b"\r\n\r\n", 1)
        request_line, *lines = head.decode("latin-1").split("\r\n")
        method, target, _ = request_line.split(" ")
        headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
        self.seen.append((method, target, headers))
        if self.expected and headers.get("proxy-authorization") != self.expected:
            client.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
            client.close()
            return
        if method == "CONNECT":
            host, port = target.rsplit(":", 1)
            upstream = create_connection((host, int(port)))
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            pumps = [gevent.spawn(_pump, client, upstream), gevent.spawn(_pump, upstream, client)]
            gevent.joinall(pumps)
            return
        assert target.startswith("http://"), target
        authority, _, path = target[len("http://") :].partition("/")
        host, port = authority.rsplit(":", 1)
        upstream = create_connection((host, int(port)))
        forwarded = [f"{method} /{path} HTTP/1.1"]
        forwarded += [f"{k}: {v}" for k, v in headers.items() if k not in ("proxy-authorization", "connection")]
        forwarded.append("Connection: close")
        upstream.sendall(("\r\n".join(forwarded) + "\r\n\r\n").encode("latin-1") + rest)
        _pump(upstream, client)

    def stop(self):
        self.server.stop(timeout=1)


def _pump(source, sink):
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            try:
                sock.shutdown(2)
            except OSError:
                pass


def app(environ, start_response):
    body = f"{environ['PATH_INFO']} proxy-auth={environ.get('HTTP_PROXY_AUTHORIZATION')}".encode()
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]


@pytest.fixture
def origin():
    srv = WSGIServer(("127.0.0.1", 0), app, log=None)
    srv.start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.stop(timeout=1)


@pytest.fixture
def tls_origin():
    with TargetServer(tls=True) as server:
        yield server


@pytest.fixture
def proxy():
    server = Proxy()
    yield server
    server.stop()


@pytest.fixture
def guarded_proxy():
    server = Proxy(credentials="load:s3cret")
    yield server
    server.stop()


def fast(base, **kwargs):
    return fasthttp.FastHttpSession(base, request_event=Events().request, user=None, **kwargs)


def http(base):
    return httpuser.HttpSession(base, request_event=Events().request, user=None)


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def test_proxy_host_sends_http_requests_in_absolute_form(origin, proxy):
    session = fast(origin, proxy_host="127.0.0.1", proxy_port=_port(proxy.url))
    response = session.get("/items?page=2")
    assert response.status_code == 200
    assert response.text == "/items proxy-auth=None"
    method, target, headers = proxy.seen[0]
    assert (method, target) == ("GET", f"{origin}/items?page=2")
    assert headers["host"] == origin[len("http://") :]


def test_proxy_host_tunnels_https_through_connect(tls_origin, proxy):
    session = fast(tls_origin.url, proxy_host="127.0.0.1", proxy_port=_port(proxy.url))
    for _ in range(3):
        assert session.get("/").status_code == 200
    # One tunnel, kept alive for all three; the proxy never saw a path.
    assert proxy.seen == [("CONNECT", tls_origin.url[len("https://") :], proxy.seen[0][2])]


def test_requests_proxies_with_credentials(origin, tls_origin, guarded_proxy):
    session = http(origin)
    authorized = guarded_proxy.url.replace("http://", "http://load:s3cret@")
    session.proxies = {"http": authorized}
    assert session.get("/a").text == "/a proxy-auth=None", "the proxy's credentials stop at the proxy"
    # Per request, over the session's: https through an authorized tunnel, with CA verification.
    response = session.get(f"{tls_origin.url}/", proxies={"https": authorized}, verify=_ca(tls_origin))
    assert response.status_code == 200
    assert [method for method, _, _ in guarded_proxy.seen] == ["GET", "CONNECT"]


def _ca(server, cache={}):  # noqa: B006 (one file per server)
    if server.url not in cache:
        import tempfile

        with tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False) as f:
            f.write(server.certificate_pem)
        cache[server.url] = f.name
    return cache[server.url]


def test_a_proxy_that_wants_credentials_is_refused_as_requests_reports_it(origin, tls_origin, guarded_proxy):
    session = http(origin)
    session.proxies = {"all": guarded_proxy.url}
    assert session.get("/").status_code == 407  # the proxy's own answer, for plain http
    response = session.get(f"{tls_origin.url}/", verify=False)
    assert response.status_code == 0
    with pytest.raises(requests.ConnectionError, match="407 Proxy Authentication Required"):
        response.raise_for_status()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_proxy_that_refuses_the_connection_is_named_in_the_error(origin, tls_origin):
    port = _closed_port()
    session = fast(origin, proxy_host="127.0.0.1", proxy_port=port)
    for target in (origin, tls_origin.url):
        error = session.get(f"{target}/").error
        assert isinstance(error, ConnectionRefusedError), error  # the type Locust's client gives
        assert f"proxy 127.0.0.1:{port}" in str(error) and str(_port(target)) not in str(error)
    # HttpUser: requests' ProxyError, whose cause names the proxy.
    response = http(origin).get("/", proxies={"all": f"http://127.0.0.1:{port}"})
    with pytest.raises(requests.exceptions.ProxyError, match=f"proxy 127.0.0.1:{port}"):
        response.raise_for_status()
    locust_session = LocustHttpSession(origin, request_event=Events().request, user=None)
    with pytest.raises(requests.exceptions.ProxyError):
        locust_session.get("/", proxies={"all": f"http://127.0.0.1:{port}"}).raise_for_status()


def test_environment_proxies_are_ignored_unless_asked(origin, proxy, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("http_proxy", proxy.url)
    assert http(origin).get("/").status_code == 200
    assert fast(origin).get("/").status_code == 200
    assert proxy.seen == []


@pytest.mark.parametrize(
    ("proxies", "reason"),
    [
        ({"http": "socks5://127.0.0.1:1080"}, "HTTP proxies only"),
        ({"http": "http://127.0.0.1:0"}, "port"),
        ({"http://example.internal": "http://127.0.0.1:3128"}, "not supported"),
    ],
)
def test_proxies_that_cannot_work_raise_valueerror_before_any_connection(origin, proxies, reason):
    with pytest.raises(ValueError, match=reason):
        http(origin).get("/", proxies=proxies)


def test_proxy_host_without_a_port_is_refused():
    with pytest.raises(ValueError, match="proxy_port"):
        fast("http://127.0.0.1:1", proxy_host="127.0.0.1")
