"""TLS settings from Python's descriptions of them, for the engine.

Locust's ``ssl_context_factory`` returns an ``ssl.SSLContext`` and requests takes ``verify=`` and
``cert=``; the engine speaks rustls, so each is turned into one ``TlsConfig`` (made once and shared,
since connections are pooled per configuration). An ``SSLContext`` shows its verification mode,
hostname check, versions and trusted CAs, but not the client certificate loaded into it, so
``load_cert_chain`` is wrapped to remember its arguments on the context. Nor the certificates of a
``capath`` directory, which OpenSSL reads only when a handshake looks for an issuer, so
``load_verify_locations`` is wrapped to remember the directories too.
"""

from __future__ import annotations

import hashlib
import os
import re
import ssl
import threading
from collections.abc import Callable
from typing import Any

from ringload._ringload import TlsConfig

try:
    import certifi

    _CERTIFI_CAS: str | None = certifi.where()
except ImportError:  # geventhttpclient, and so Locust, installs it; a bare install may not
    _CERTIFI_CAS = None

_VERSION_NAMES = {ssl.TLSVersion.TLSv1_2: "TLSv1.2", ssl.TLSVersion.TLSv1_3: "TLSv1.3"}
_OLDER_VERSIONS = (ssl.TLSVersion.SSLv3, ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1)

_configs: dict[tuple, TlsConfig] = {}
_configs_lock = threading.Lock()


def _stdlib_ssl_context_class() -> type[ssl.SSLContext]:
    # gevent's monkey-patched ssl.SSLContext subclasses the standard library's: patching that one
    # covers contexts made either way.
    for cls in ssl.SSLContext.__mro__:
        if cls.__module__ == "ssl" and cls.__name__ == "SSLContext":
            return cls
    return ssl.SSLContext


def _remember_cert_chains_and_ca_dirs() -> None:
    cls = _stdlib_ssl_context_class()
    original = cls.load_cert_chain
    if getattr(original, "_ringload_wrapper", False):
        return
    original_verify_locations = cls.load_verify_locations

    def load_cert_chain(self: Any, certfile: Any, keyfile: Any = None, password: Any = None) -> None:
        original(self, certfile, keyfile, password)
        self._ringload_cert_chain = (certfile, keyfile, password)

    def load_verify_locations(self: Any, cafile: Any = None, capath: Any = None, cadata: Any = None) -> None:
        original_verify_locations(self, cafile, capath, cadata)
        if capath is not None:
            self._ringload_ca_dirs = (*getattr(self, "_ringload_ca_dirs", ()), os.fsdecode(capath))

    wrappers: tuple[tuple[Any, Any], ...] = (
        (load_cert_chain, original),
        (load_verify_locations, original_verify_locations),
    )
    for wrapper, wrapped in wrappers:
        wrapper._ringload_wrapper = True
        wrapper.__doc__ = wrapped.__doc__
    cls.load_cert_chain = load_cert_chain  # type: ignore[method-assign]
    cls.load_verify_locations = load_verify_locations  # type: ignore[method-assign]


_remember_cert_chains_and_ca_dirs()

#: The names OpenSSL looks a CA up by in a ``capath`` directory: the subject's hash and a
#: sequence number, as ``openssl rehash`` (``c_rehash``) writes them. Other files are not read.
_HASHED_CA_NAME = re.compile(r"[0-9a-f]{8}\.[0-9]+")
_PEM_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)


def _ca_dir_certs(directory: str) -> list[bytes]:
    """The certificates (DER) OpenSSL can find in a ``capath`` directory, by name order. An
    unreadable directory or file is skipped, as OpenSSL's lookup skips it."""
    try:
        names = sorted(name for name in os.listdir(directory) if _HASHED_CA_NAME.fullmatch(name))
    except OSError:
        return []
    ders = []
    for name in names:
        try:
            with open(os.path.join(directory, name), encoding="ascii", errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        for pem in _PEM_CERTIFICATE.findall(text):
            try:
                ders.append(ssl.PEM_cert_to_DER_cert(pem))
            except ValueError:
                continue
    return ders


def _cached(key: tuple, make: Callable[[], TlsConfig]) -> TlsConfig:
    with _configs_lock:
        config = _configs.get(key)
    if config is None:
        config = make()  # may raise ValueError: nothing is cached then
        with _configs_lock:
            config = _configs.setdefault(key, config)
    return config


def _version_name(version: ssl.TLSVersion, is_maximum: bool) -> str | None:
    if version in _VERSION_NAMES:
        return _VERSION_NAMES[version]
    if version in _OLDER_VERSIONS:
        if is_maximum:
            raise ValueError(f"the SSLContext allows at most {version.name}; ringload speaks TLS 1.2 and 1.3 only")
        return None  # a lower minimum: what ringload speaks is within it
    return None  # MINIMUM_SUPPORTED / MAXIMUM_SUPPORTED


def tls_from_ssl_context(context: ssl.SSLContext) -> TlsConfig:
    """The engine's configuration for what ``context`` decides: ``verify_mode``,
    ``check_hostname``, the CAs it trusts (those of its ``capath`` directories too), the client
    certificate chain loaded with ``load_cert_chain`` and the protocol versions. Ciphers and
    other OpenSSL options are not carried over (rustls picks from its own safe set)."""
    if not isinstance(context, ssl.SSLContext):
        raise TypeError(f"ssl_context_factory must return an ssl.SSLContext, not {type(context).__name__}")
    verify = context.verify_mode != ssl.CERT_NONE
    cas = context.get_ca_certs(binary_form=True) if verify else []
    if verify and hasattr(context, "_ringload_ca_dirs"):
        seen = set(cas)  # a handshake may have read some of them into the context already
        for directory in context._ringload_ca_dirs:
            for der in _ca_dir_certs(directory):
                if der not in seen:
                    seen.add(der)
                    cas.append(der)
    chain = getattr(context, "_ringload_cert_chain", None)
    cert_file = key_file = None
    if chain is not None:
        cert_file, key_file, password = chain
        if password is not None:
            raise ValueError(
                "ringload cannot use an encrypted client key (load_cert_chain's password); decrypt it "
                "once with `openssl pkey -in key.pem -out key-plain.pem` and load that"
            )
        cert_file, key_file = os.fspath(cert_file), key_file and os.fspath(key_file)
    minimum = _version_name(context.minimum_version, is_maximum=False)
    maximum = _version_name(context.maximum_version, is_maximum=True)
    check_hostname = verify and context.check_hostname
    fingerprint = hashlib.sha256(b"".join(cas)).hexdigest() if cas else None
    key = ("context", verify, check_hostname, fingerprint, len(cas), cert_file, key_file, minimum, maximum)
    return _cached(
        key,
        lambda: TlsConfig(
            verify=verify,
            check_hostname=check_hostname,
            ca_certs=list(cas) if verify else None,
            cert_file=cert_file,
            key_file=key_file,
            minimum_version=minimum,
            maximum_version=maximum,
        ),
    )


def ssl_context_from_factory(factory: Callable[..., ssl.SSLContext], insecure: bool) -> ssl.SSLContext:
    """Calls a Locust ``ssl_context_factory`` as Locust's FastHttpSession (geventhttpclient) does:
    with ``cafile=`` (certifi's bundle) when it takes one, else without and the bundle loaded
    after; then ``check_hostname`` is ``not insecure`` and, when it is on, the chain is required.
    The factory's own exceptions reach the caller."""
    try:
        context = factory(cafile=_CERTIFI_CAS)
    except TypeError:
        context = factory()
        if _CERTIFI_CAS is not None:
            context.load_verify_locations(cafile=_CERTIFI_CAS)
    context.check_hostname = not insecure
    if not insecure:
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def tls_for_requests(verify: Any, cert: Any) -> bool | TlsConfig:
    """requests' ``verify`` (a bool, or a CA bundle file or directory that replaces the default
    roots) and ``cert`` (``"both.pem"`` or ``(cert, key)``) as ``Session.send``'s ``verify``."""
    if verify is True or verify is False:
        ca_path = None
    elif isinstance(verify, (str, os.PathLike)):
        ca_path = os.fspath(verify)
    else:
        raise TypeError(f"verify= must be True, False or a CA bundle path, not {type(verify).__name__}")
    if cert is None or cert == "":
        if ca_path is None:
            return verify  # the engine's own configurations
        cert_file = key_file = None
    elif isinstance(cert, (str, os.PathLike)):
        cert_file, key_file = os.fspath(cert), None
    elif isinstance(cert, tuple) and len(cert) == 2:
        cert_file, key_file = os.fspath(cert[0]), os.fspath(cert[1])
    else:
        raise TypeError('cert= must be a path ("both.pem") or a (cert, key) tuple of paths')
    checked = verify is not False
    return _cached(
        ("requests", checked, ca_path, cert_file, key_file),
        lambda: TlsConfig(verify=checked, ca_path=ca_path, cert_file=cert_file, key_file=key_file),
    )
