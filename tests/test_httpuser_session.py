"""``ringload.httpuser.HttpSession`` (``--patch-httpuser``): requests' ``Session`` surface, auth
objects applied to the exact request sent (SigV4 verified by the server), requests' errors, and
the same events as Locust's own ``HttpSession`` for the same requests."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from datetime import timedelta
from urllib.parse import parse_qsl, quote

import gevent
import pytest
from gevent.pywsgi import WSGIServer

# First: it imports Locust, which monkey-patches with gevent before requests loads ssl.
httpuser = pytest.importorskip("ringload.httpuser")

import requests  # noqa: E402
from locust.clients import HttpSession as LocustHttpSession  # noqa: E402
from locust.event import Events  # noqa: E402
from locust.exception import LocustError  # noqa: E402
from requests.auth import AuthBase, HTTPBasicAuth  # noqa: E402
from requests_aws4auth import AWS4Auth  # noqa: E402
from ringload._client.bodies import _split_userinfo  # noqa: E402

ACCESS_KEY, SECRET_KEY = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
REGION, SERVICE = "us-east-1", "execute-api"
SIGNER_KEY = b"shared-secret"


def _sigv4_is_valid(environ, body: bytes) -> bool:
    """Recomputes the AWS Signature Version 4 of the request as API Gateway would."""
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    if not authorization.startswith("AWS4-HMAC-SHA256 "):
        return False
    fields = dict(part.strip().split("=", 1) for part in authorization[len("AWS4-HMAC-SHA256 ") :].split(","))
    _key, date, region, service, _terminator = fields["Credential"].split("/")
    signed_headers = fields["SignedHeaders"].split(";")
    headers = {name: environ.get("HTTP_" + name.upper().replace("-", "_"), "") for name in signed_headers}
    if "content-type" in headers:
        headers["content-type"] = environ.get("CONTENT_TYPE", "")
    query = sorted(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
    canonical = "\n".join(
        [
            environ["REQUEST_METHOD"],
            quote(environ["PATH_INFO"]),
            "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in query),
            "".join(f"{name}:{' '.join(headers[name].split())}\n" for name in signed_headers),
            ";".join(signed_headers),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", environ["HTTP_X_AMZ_DATE"], scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = ("AWS4" + SECRET_KEY).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields["Signature"])


class BodySigner(AuthBase):
    """A custom signer: HMAC over the method, path and query, Content-Type and body."""

    def __call__(self, request):
        split = requests.utils.urlparse(request.url)
        body = request.body or b""
        body = body.encode() if isinstance(body, str) else body
        message = b"\n".join(
            [
                request.method.encode(),
                f"{split.path}?{split.query}".encode(),
                request.headers.get("Content-Type", "").encode(),
                body,
            ]
        )
        request.headers["X-Signature"] = hmac.new(SIGNER_KEY, message, hashlib.sha256).hexdigest()
        return request


def app(environ, start_response):
    path = environ["PATH_INFO"]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    if path == "/headers":
        seen = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        seen["query"] = environ.get("QUERY_STRING", "")
        return _reply(start_response, "200 OK", json.dumps(seen).encode(), "application/json")
    if path.startswith("/items"):
        ok = _sigv4_is_valid(environ, body)
        return _reply(start_response, "200 OK" if ok else "403 Forbidden", b"signed" if ok else b"bad signature")
    if path == "/signed":
        message = b"\n".join(
            [
                environ["REQUEST_METHOD"].encode(),
                f"{path}?{environ.get('QUERY_STRING', '')}".encode(),
                environ.get("CONTENT_TYPE", "").encode(),
                body,
            ]
        )
        expected = hmac.new(SIGNER_KEY, message, hashlib.sha256).hexdigest()
        ok = hmac.compare_digest(expected, environ.get("HTTP_X_SIGNATURE", ""))
        return _reply(start_response, "200 OK" if ok else "403 Forbidden", b"")
    if path == "/basic":
        ok = environ.get("HTTP_AUTHORIZATION") == "Basic dXNlcjpwYXNz"
        return _reply(start_response, "200 OK" if ok else "401 Unauthorized", b"")
    if path == "/loop":
        return _reply(start_response, "302 Found", b"", "text/plain", [("Location", "/loop")])
    if path == "/moved":
        return _reply(start_response, "302 Found", b"", "text/plain", [("Location", "/headers")])
    if path == "/cookie/set":
        return _reply(start_response, "200 OK", b"", "text/plain", [("Set-Cookie", "sid=42; Path=/")])
    if path.startswith("/status/"):
        return _reply(start_response, f"{path[8:]} X", b"")
    if path == "/slow":
        gevent.sleep(0.6)  # past the tests' 0.3 s timeouts; the fixture waits for it to finish
        return _reply(start_response, "200 OK", b"late")
    return _reply(start_response, "404 Not Found", b"nope")


def _reply(start_response, status, body, content_type="text/plain", extra=()):
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body))), *extra])
    return [body]


@pytest.fixture
def server():
    srv = WSGIServer(("127.0.0.1", 0), app, log=None)
    srv.start()
    yield f"http://127.0.0.1:{srv.server_port}"
    # Waits for handlers still sleeping, so no connection of this test closes during a later one
    # (the fault tests count sockets).
    srv.stop(timeout=2)


def make_session(base, cls=httpuser.HttpSession):
    events = Events()
    fired: list = []
    events.request.add_listener(lambda **kw: fired.append(kw))
    return cls(base, request_event=events.request, user=None), fired


def both_sessions(base):
    """ringload's session and Locust's own HttpSession on the same base URL, with their events."""
    return (*make_session(base), *make_session(base, cls=LocustHttpSession))


def assert_same_failure(our_event, their_event):
    assert type(our_event["exception"]) is type(their_event["exception"])
    assert str(our_event["exception"]) == str(their_event["exception"])


@pytest.mark.parametrize("userinfo", ["user:pass", "user:", ":pass", ":", "user", "us%40er:p%C3%A9ss%3A", "%20:%20"])
def test_userinfo_makes_the_basic_header_requests_makes(userinfo):
    # Percent-decoded, then Latin-1; a user name or a password (with its colon), or no header.
    url = f"http://{userinfo}@127.0.0.1:1/"
    expected = requests.Request("GET", url).prepare().headers.get("Authorization")
    session, _ = make_session(url.rstrip("/"))  # in the base URL
    assert session.auth_header == expected
    assert "@" not in session.base_url
    # in a request's absolute URL: the same rule, the URL sent and reported without it
    bare, header = _split_userinfo(url, session._flavor.userinfo_needs_both)
    assert header == expected and bare == "http://127.0.0.1:1/"


def test_session_headers_cookies_and_params_apply_to_every_request(server):
    session, _ = make_session(server)
    session.headers.update({"Authorization": "Bearer t0ken"})  # the usual on_start idiom
    session.cookies.set("theme", "dark")
    session.params = {"tenant": "acme"}
    seen = session.get("/headers", params={"page": "2"}).json()
    assert seen["authorization"] == "Bearer t0ken"
    assert "theme=dark" in seen["cookie"]
    assert seen["query"] == "tenant=acme&page=2"


def test_aws4auth_signature_verifies_at_the_server(server):
    session, fired = make_session(server)
    auth = AWS4Auth(ACCESS_KEY, SECRET_KEY, REGION, SERVICE)
    assert session.get("/items", auth=auth, params={"color": "red"}).status_code == 200
    response = session.post("/items/7", auth=auth, json={"name": "widget"}, headers={"X-Trace": "1"})
    assert response.status_code == 200, response.text
    assert response.request.headers["Content-Type"] == "application/json"
    assert [event["exception"] for event in fired] == [None, None]
    assert [event["name"] for event in fired] == ["/items?color=red", "/items/7"]
    # A signature is checked for real: the same request unsigned is refused.
    assert session.get("/items").status_code == 403


def test_session_level_auth_objects_and_custom_signers(server):
    session, _ = make_session(server)
    session.auth = BodySigner()
    assert session.post("/signed", data="a=1&b=2", params={"q": "x"}).status_code == 200
    assert session.put("/signed", json=[1, 2, 3]).status_code == 200
    assert session.get("/basic", auth=HTTPBasicAuth("user", "pass")).status_code == 200
    session.auth = ("user", "pass")
    assert session.get("/basic").status_code == 200


def test_responses_have_requests_members(server):
    session, fired = make_session(server)
    response = session.get("/cookie/set")
    assert response.reason == "OK"
    assert isinstance(response.elapsed, timedelta) and response.elapsed > timedelta(0)
    assert response.cookies.get("sid") == "42"
    assert session.cookies.get("sid") == "42"
    assert response.history == []
    missing = session.get("/status/404")
    assert missing.reason == "X", "the server's own reason phrase"
    with pytest.raises(requests.HTTPError, match=f"404 Client Error: X for url: {server}/status/404"):
        missing.raise_for_status()
    assert str(fired[-1]["exception"]) == "404 Client Error: X for url: /status/404", "named as in stats"
    with pytest.raises(requests.HTTPError, match="503 Server Error"):
        session.get("/status/503").raise_for_status()
    with session.get("/status/404", catch_response=True) as caught:
        with pytest.raises(requests.HTTPError):
            caught.raise_for_status()
        caught.success()
    assert fired[-1]["exception"] is None
    with pytest.raises(LocustError, match="catch_response=True"):
        with session.get("/status/200"):
            pass


@pytest.mark.parametrize("catch_response", [False, True])
def test_a_refused_connection_raises_requests_connection_error(catch_response):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ours, our_events, theirs, their_events = both_sessions(f"http://127.0.0.1:{port}")
    for session in (ours, theirs):
        response = session.get("/x", catch_response=catch_response)
        assert response.status_code == 0
        with pytest.raises(requests.ConnectionError):
            response.raise_for_status()
        if catch_response:
            with response:
                pass
    # Locust reports the socket-level cause, not requests' wrapper.
    assert isinstance(their_events[0]["exception"], ConnectionRefusedError)
    assert isinstance(our_events[0]["exception"], ConnectionRefusedError)
    assert str(our_events[0]["exception"]) == str(their_events[0]["exception"])


@pytest.mark.parametrize("catch_response", [False, True])
def test_a_timed_out_request_reports_its_time_as_locusts_httpsession(server, catch_response):
    fired = {}
    for label, (session, events) in (
        ("ringload", make_session(server)),
        ("locust", make_session(server, LocustHttpSession)),
    ):
        response = session.get("/slow", timeout=0.3, catch_response=catch_response)
        if catch_response:
            with response:
                pass
        with pytest.raises(requests.exceptions.ReadTimeout):
            response.raise_for_status()
        assert response.request_meta["name"] == "/slow"
        (fired[label],) = events
    assert 290 <= fired["ringload"]["response_time"] < 1000
    assert 290 <= fired["locust"]["response_time"] < 1000
    assert fired["ringload"]["name"] == fired["locust"]["name"]


def test_every_response_carries_its_request_meta(server):
    session, fired = make_session(server)
    response = session.get("/headers", params={"a": "1"})
    assert response.request_meta == fired[0]
    assert response.request_meta["name"] == "/headers?a=1"
    assert response.request_meta["response"] is response


CALLS = [
    ("GET", "/headers", {}),
    ("GET", "/headers", {"params": {"a": "1"}}),
    ("GET", "/status/404", {}),
    ("GET", "/status/500", {"name": "grouped"}),
    ("POST", "/signed", {"data": "x=1", "auth": BodySigner()}),
    ("GET", "/cookie/set", {}),
    ("GET", "/moved", {}),
    ("GET", "/loop", {}),
    ("GET", "/h\u00e9llo?q=\u00fc", {}),  # percent-encoded as requests sends it, and so named
]


@pytest.mark.parametrize(("method", "path", "kwargs"), CALLS, ids=[f"{m} {p} {sorted(k)}" for m, p, k in CALLS])
def test_events_match_locusts_httpsession(server, method, path, kwargs):
    ours, our_events, theirs, their_events = both_sessions(server)
    our_response = ours.request(method, path, **kwargs)
    their_response = theirs.request(method, path, **kwargs)
    assert our_response.status_code == their_response.status_code
    assert our_response.reason == their_response.reason
    (our_event,) = our_events
    (their_event,) = their_events
    assert set(our_event) == set(their_event)
    for key in ("request_type", "name", "url", "response_length"):
        assert our_event[key] == their_event[key], key
    assert_same_failure(our_event, their_event)


@pytest.mark.parametrize("path", ["/status/404", "/status/500", "/headers"])
def test_catch_response_outcomes_match_locusts_httpsession(server, path):
    ours, our_events, theirs, their_events = both_sessions(server)
    for session in (ours, theirs):
        with session.get(path, name="named", catch_response=True):
            pass
    (our_event,) = our_events
    (their_event,) = their_events
    assert_same_failure(our_event, their_event)


@pytest.mark.parametrize(
    ("base", "url"),
    [
        (None, "http://"),
        (None, "http://[::1/x"),
        (None, "localhost:9/x"),
        ("ftp://127.0.0.1:1", "/a"),
        # Locust's own TestHttpSession.test_wrong_url: a host that is no IDNA label is InvalidURL.
        ("http://\x94", "/"),
        ("telnet://127.0.0.1", "/"),
        ("127.0.0.1", "/"),
        ("127.0.0.1:9", "/"),
    ],
)
def test_invalid_urls_raise_requests_errors_at_the_call(server, base, url):
    ours, our_events, theirs, _ = both_sessions(base or server)
    with pytest.raises(requests.RequestException) as their_error:
        theirs.get(url)
    with pytest.raises(type(their_error.value)) as our_error:
        ours.get(url)
    assert isinstance(our_error.value, ValueError), "still a ValueError, as requests' are"
    assert str(our_error.value) == str(their_error.value)
    assert our_events == [], "nothing was sent, so nothing is reported"


def test_a_base_url_without_a_scheme_raises_at_the_call_and_says_what_was_meant(server):
    # As requests' Session does, unlike FastHttpSession, which records a failure.
    schemeless = server.removeprefix("http://")
    ours, our_events, _, _ = both_sessions(schemeless)
    with pytest.raises(requests.exceptions.InvalidSchema) as error:
        ours.get("/x")
    assert f'did you mean "http://{schemeless}/x"?' in str(error.value.__cause__)
    assert our_events == []


def test_head_does_not_follow_redirects_by_default(server):
    ours, _, theirs, _ = both_sessions(server)
    assert ours.head("/moved").status_code == theirs.head("/moved").status_code == 302
    assert ours.head("/moved", allow_redirects=True).status_code == 200


def test_a_followed_redirect_keeps_its_hops_in_history(server):
    ours, _, theirs, _ = both_sessions(server)
    our_response, their_response = ours.get("/moved"), theirs.get("/moved")
    assert our_response.url == their_response.url == f"{server}/headers"
    assert [(hop.status_code, hop.url) for hop in our_response.history] == [
        (hop.status_code, hop.url) for hop in their_response.history
    ]
    assert [hop.status_code for hop in our_response.history] == [302]
    looping = ours.get("/loop")
    assert looping.status_code == 0 and isinstance(looping.error, requests.TooManyRedirects)
    assert len(looping.history) == ours.max_redirects + 1
