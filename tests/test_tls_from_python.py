"""TLS decided from Python, against nginx with ``ssl_verify_client on``: FastHttpUser's
``ssl_context_factory`` (its SSLContext's verification, CAs and ``load_cert_chain``), and
HttpUser's ``cert=`` and ``verify=`` (per request and as session attributes); and client
certificates as OpenSSL users make them (X.509 v1 and v3, RSA and ECDSA keys in every key file
format) on each of those faces and ``ringload.run``."""

from __future__ import annotations

import pytest

# First: they import Locust, which monkey-patches with gevent before requests loads ssl.
fasthttp = pytest.importorskip("ringload.contrib.fasthttp")
httpuser = pytest.importorskip("ringload.httpuser")

import ssl  # noqa: E402
import subprocess  # noqa: E402
import warnings  # noqa: E402

import gevent.ssl  # noqa: E402
import requests  # noqa: E402
import ringload  # noqa: E402
import urllib3  # noqa: E402
from locust.clients import HttpSession as LocustHttpSession  # noqa: E402
from locust.contrib.fasthttp import FastHttpSession as LocustFastHttpSession  # noqa: E402
from locust.event import Events  # noqa: E402
from mtls_nginx import MATRIX, MtlsNginx, make_pki  # noqa: E402

CLIENT_SUBJECT = "CN=load-client"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def nginx(pki, tmp_path_factory):
    server = MtlsNginx(pki, tmp_path_factory.mktemp("nginx"))
    yield server
    server.stop()


def session_of(cls, base, **kwargs):
    events = Events()
    fired: list = []
    events.request.add_listener(lambda **kw: fired.append(kw))
    return cls(base, request_event=events.request, user=None, **kwargs), fired


def fast_session(base, factory, insecure=True):
    return session_of(fasthttp.FastHttpSession, base, ssl_context_factory=factory, insecure=insecure)


# --- FastHttpUser: ssl_context_factory -------------------------------------------------------


def test_the_documented_factory_with_load_cert_chain_gets_past_ssl_verify_client(pki, nginx):
    calls = []

    def factory():
        calls.append(1)
        context = gevent.ssl.create_default_context()
        context.load_verify_locations(pki["ca.pem"])
        context.load_cert_chain(pki["client.pem"], pki["client.key"])
        return context

    session, fired = fast_session(nginx.url(), factory, insecure=False)
    for _ in range(3):
        response = session.get("/")
        assert response.status_code == 200, response.text
        assert response.text == CLIENT_SUBJECT
    assert [event["exception"] for event in fired] == [None] * 3
    assert calls == [1], "called once, at the first https request"


def test_without_a_client_certificate_nginx_refuses(pki, nginx):
    def factory(cafile=None):
        context = ssl.create_default_context(cafile=cafile)
        context.load_verify_locations(pki["ca.pem"])
        return context

    session, _ = fast_session(nginx.url(), factory, insecure=False)
    assert session.get("/").status_code == 400  # "No required SSL certificate was sent"


def test_the_contexts_trusted_cas_decide_verification(pki, nginx):
    def trusting(ca):
        def factory():
            context = ssl.create_default_context(cafile=pki[ca])
            context.load_cert_chain(pki["both.pem"])
            return context

        return factory

    # Locust's default insecure=True turns the hostname check off but keeps the factory's
    # CERT_REQUIRED: the chain is still checked against the context's CAs.
    session, fired = fast_session(nginx.url(), trusting("other-ca.pem"))
    response = session.get("/")
    assert response.status_code == 0
    assert fired[0]["exception"] is not None
    assert "certificate" in str(fired[0]["exception"]).lower()
    session, _ = fast_session(nginx.url(), trusting("ca.pem"))
    assert session.get("/").text == CLIENT_SUBJECT


def _ca_directory(path, pki, *, hashed, unhashed=()):
    """A ``capath`` directory: ``hashed`` CAs under the names ``openssl rehash`` gives them (the
    subject's hash, ".0"), ``unhashed`` ones under their own names, which OpenSSL never reads."""
    path.mkdir()
    for name in hashed:
        subject_hash = subprocess.run(
            ["openssl", "x509", "-hash", "-noout", "-in", pki[name]], check=True, capture_output=True, text=True
        ).stdout.strip()
        (path / f"{subject_hash}.0").write_text(open(pki[name]).read())
    for name in unhashed:
        (path / name).write_text(open(pki[name]).read())
    return str(path)


@pytest.mark.parametrize("session_class", [fasthttp.FastHttpSession, LocustFastHttpSession], ids=["ours", "locust"])
def test_a_capath_directory_decides_verification_as_openssl_reads_it(pki, nginx, tmp_path, session_class):
    def trusting(capath):
        def factory():
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # no CA but the directory's
            context.load_verify_locations(capath=capath)
            context.load_cert_chain(pki["both.pem"])
            return context

        return factory

    hashed = _ca_directory(tmp_path / "hashed", pki, hashed=["ca.pem"])
    session, _ = session_of(session_class, nginx.url(), ssl_context_factory=trusting(hashed), insecure=False)
    assert session.get("/").text == CLIENT_SUBJECT
    # The server's CA under a name OpenSSL does not look up, and another CA under a hashed one.
    unhashed = _ca_directory(tmp_path / "unhashed", pki, hashed=["other-ca.pem"], unhashed=["ca.pem"])
    session, fired = session_of(session_class, nginx.url(), ssl_context_factory=trusting(unhashed), insecure=False)
    assert session.get("/").status_code == 0
    assert "certificate" in str(fired[0]["exception"]).lower()


def test_cert_none_accepts_any_server_certificate(pki, nginx):
    def factory():
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.load_cert_chain(pki["client.pem"], pki["client.key"])
        return context

    session, _ = fast_session(nginx.url(), factory)
    assert session.get("/").text == CLIENT_SUBJECT


def test_check_hostname_follows_insecure_as_in_locust(pki, nginx):
    def factory():
        context = ssl.create_default_context(cafile=pki["ca.pem"])
        context.load_cert_chain(pki["both.pem"])
        return context

    # The server's certificate is for localhost; 127.0.0.1 matches only without the name check.
    session, _ = fast_session(nginx.url("127.0.0.1"), factory, insecure=True)
    assert session.get("/").text == CLIENT_SUBJECT
    session, fired = fast_session(nginx.url("127.0.0.1"), factory, insecure=False)
    assert session.get("/").status_code == 0
    assert fired[0]["exception"] is not None


def test_the_factorys_exceptions_reach_the_caller(nginx):
    def factory():
        raise RuntimeError("no certificate store on this machine")

    session, fired = fast_session(nginx.url(), factory)
    with pytest.raises(RuntimeError, match="no certificate store"):
        session.get("/")
    assert fired == []


def test_a_context_limited_to_tls_1_1_is_refused_before_any_traffic(pki, nginx):
    def old_protocols():
        context = ssl.create_default_context(cafile=pki["ca.pem"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # as old as the servers that need it
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = ssl.TLSVersion.TLSv1_1
        return context

    session, fired = fast_session(nginx.url(), old_protocols)
    with pytest.raises(ValueError, match="TLS 1.2 and 1.3"):
        session.get("/")
    assert fired == []


def test_an_encrypted_client_key_is_refused_with_what_to_do(pki, nginx, tmp_path):
    encrypted = tmp_path / "encrypted.key"
    subprocess.run(
        ["openssl", "pkey", "-in", pki["client.key"], "-aes256", "-passout", "pass:s3cret", "-out", str(encrypted)],
        check=True,
    )

    def factory():
        context = ssl.create_default_context(cafile=pki["ca.pem"])
        context.load_cert_chain(pki["client.pem"], str(encrypted), password="s3cret")
        return context

    session, fired = fast_session(nginx.url(), factory)
    with pytest.raises(ValueError, match="openssl pkey"):
        session.get("/")
    assert fired == []


def test_a_tls_1_2_ceiling_is_kept(pki, nginx):
    def factory():
        context = ssl.create_default_context(cafile=pki["ca.pem"])
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(pki["both.pem"])
        return context

    session, _ = fast_session(nginx.url(), factory)
    assert session.get("/").text == CLIENT_SUBJECT


def test_fasthttpuser_class_attribute_reaches_the_session(pki, nginx):
    from locust.env import Environment

    def factory():
        context = ssl.create_default_context(cafile=pki["ca.pem"])
        context.load_cert_chain(pki["both.pem"])
        return context

    class MtlsUser(fasthttp.FastHttpUser):
        host = nginx.url()
        ssl_context_factory = staticmethod(factory)

    user = MtlsUser(Environment(user_classes=[MtlsUser]))
    assert user.client.get("/").text == CLIENT_SUBJECT


# --- HttpUser: cert= and verify= -------------------------------------------------------------


@pytest.mark.parametrize("cert", ["both.pem", ("client.pem", "client.key")])
def test_requests_cert_and_verify_per_request(pki, nginx, cert):
    session, fired = session_of(httpuser.HttpSession, nginx.url())
    cert = pki[cert] if isinstance(cert, str) else (pki[cert[0]], pki[cert[1]])
    response = session.get("/", cert=cert, verify=pki["ca.pem"])
    assert response.status_code == 200 and response.text == CLIENT_SUBJECT
    assert fired[0]["exception"] is None


def test_requests_cert_and_verify_as_session_attributes(pki, nginx):
    session, _ = session_of(httpuser.HttpSession, nginx.url())
    session.cert = pki["both.pem"]
    session.verify = pki["ca.pem"]
    assert session.get("/").text == CLIENT_SUBJECT
    # verify=False per request still presents the session's certificate.
    assert session.get("/", verify=False).text == CLIENT_SUBJECT
    # Without a certificate nginx answers 400, which raise_for_status turns into HTTPError.
    session.cert = None
    with pytest.raises(requests.HTTPError):
        session.get("/").raise_for_status()


@pytest.mark.parametrize("verify", [True, "other-ca.pem"])
def test_requests_verify_rejects_a_server_outside_the_trusted_cas(pki, nginx, verify):
    session, fired = session_of(httpuser.HttpSession, nginx.url())
    verify = pki[verify] if isinstance(verify, str) else verify
    response = session.get("/", cert=pki["both.pem"], verify=verify)
    assert response.status_code == 0
    with pytest.raises(requests.exceptions.SSLError):
        response.raise_for_status()
    # Reported as Locust's HttpSession reports it: urllib3's SSLError inside requests'.
    theirs, their_events = session_of(LocustHttpSession, nginx.url())
    theirs.get("/", cert=pki["both.pem"], verify=verify)
    assert type(fired[0]["exception"]) is type(their_events[0]["exception"]) is urllib3.exceptions.SSLError
    assert isinstance(fired[0]["exception"].__context__, ssl.SSLError)


def test_same_outcome_as_locusts_own_httpsession(pki, nginx):
    ours, _ = session_of(httpuser.HttpSession, nginx.url())
    theirs, _ = session_of(LocustHttpSession, nginx.url())
    for session in (ours, theirs):
        response = session.get("/", cert=(pki["client.pem"], pki["client.key"]), verify=pki["ca.pem"])
        assert (response.status_code, response.text) == (200, CLIENT_SUBJECT)


@pytest.mark.parametrize(
    ("cert", "verify", "reason"),
    [
        ("/nonexistent/client.pem", True, "cannot read the client certificate"),
        (("client.pem", "other.key"), True, "does not go with the certificate"),
        (("ec-v1.pem", "other.key"), True, "does not go with the certificate"),
        (("rsa-v1.pem", "ec-sec1.key"), True, "does not go with the certificate"),
        ("client.key", True, "no PEM certificate"),
        (None, "/nonexistent/ca.pem", "cannot read CA file"),
    ],
)
def test_files_that_cannot_work_raise_valueerror_before_any_connection(pki, cert, verify, reason):
    def resolve(value):
        if isinstance(value, tuple):
            return tuple(resolve(v) for v in value)
        return pki[value] if isinstance(value, str) and not value.startswith("/") else value

    session, fired = session_of(httpuser.HttpSession, "https://127.0.0.1:1")
    # Port 1 would refuse a connection: a ValueError shows nothing was dialled.
    with pytest.raises(ValueError, match=reason):
        session.get("/", cert=resolve(cert), verify=resolve(verify))
    assert fired == []


def test_an_explicit_verify_is_kept_across_a_redirect_to_https(pki, nginx):
    from gevent.pywsgi import WSGIServer

    def to_nginx(environ, start_response):
        start_response("302 Found", [("Location", nginx.url() + "/"), ("Content-Length", "0")])
        return [b""]

    def distrusting():  # trusts only a CA that signed nothing here
        return ssl.create_default_context(cafile=pki["other-ca.pem"])

    redirector = WSGIServer(("127.0.0.1", 0), to_nginx, log=None)
    redirector.start()
    try:
        session, _ = fast_session(f"http://127.0.0.1:{redirector.server_port}", distrusting)
        # The factory's context would refuse nginx's certificate (status 0); verify=False given
        # by the caller holds on the https hop, where nginx answers 400 for want of a client
        # certificate: the handshake went through unverified.
        assert session.get("/", verify=False).status_code == 400
        assert session.get("/").status_code == 0, "the factory decides when verify is not given"
    finally:
        redirector.stop(timeout=1)


# --- Client certificates as OpenSSL makes them, on every face --------------------------------
# Any certificate is sent and nginx (OpenSSL) judges it: v1 ones too, which rustls's own check
# would refuse. /seen answers 200 only when nginx verified the certificate named by ?cn=.


@pytest.mark.parametrize(("cert", "key", "name"), MATRIX)
def test_ssl_context_factory_with_certificates_openssl_makes(pki, nginx, cert, key, name):
    def factory():
        context = ssl.create_default_context(cafile=pki["ca.pem"])
        context.load_cert_chain(pki[cert], pki[key])
        return context

    session, fired = fast_session(nginx.url(), factory, insecure=False)
    response = session.get(f"/seen?cn={name}")
    assert (response.status_code, response.text) == (200, f"SUCCESS CN={name}")
    assert fired[0]["exception"] is None
    assert session.get("/seen?cn=someone-else").status_code == 403


@pytest.mark.parametrize(("cert", "key", "name"), MATRIX)
def test_requests_cert_with_certificates_openssl_makes(pki, nginx, cert, key, name):
    ours, fired = session_of(httpuser.HttpSession, nginx.url())
    theirs, _ = session_of(LocustHttpSession, nginx.url())
    for session in (ours, theirs):
        response = session.get("/seen", params={"cn": name}, cert=(pki[cert], pki[key]), verify=pki["ca.pem"])
        assert (response.status_code, response.text) == (200, f"SUCCESS CN={name}")
    assert fired[0]["exception"] is None


@pytest.mark.parametrize(("cert", "key", "name"), MATRIX)
def test_ringload_run_with_certificates_openssl_makes(pki, nginx, cert, key, name):
    result = ringload.run(
        f"{nginx.url()}/seen?cn={name}", requests=3, connections=1, cacert=pki["ca.pem"], cert=pki[cert], key=pki[key]
    )
    assert result.status == {200: 3}, result


@pytest.mark.parametrize(("cert", "key"), [("ec-v1.pem", "other.key"), ("rsa-v1.pem", "ec-pkcs8.key")])
def test_a_v1_certificate_with_another_key_is_refused_before_any_connection(pki, cert, key):
    # Port 1 would refuse a connection: a ValueError shows nothing was dialled.
    with pytest.raises(ValueError, match="does not go with the certificate"):
        ringload.run("https://127.0.0.1:1/", requests=1, cert=pki[cert], key=pki[key])

    def factory():
        context = ssl.create_default_context(cafile=pki["ca.pem"])
        context.load_cert_chain(pki[cert], pki[key])  # OpenSSL's own check refuses it here
        return context

    session, fired = fast_session("https://127.0.0.1:1", factory)
    with pytest.raises(ssl.SSLError):
        session.get("/")
    assert fired == []
