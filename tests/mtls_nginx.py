"""Certificates made by ``openssl`` and an nginx that requires a client certificate
(``ssl_verify_client on``), both installed by ``.ci/run``; skipped elsewhere when missing.

The PKI: a CA that signed the server's certificate (for ``localhost``, not for 127.0.0.1, so a
hostname check can be seen to fail) and a client certificate; a second CA that signed nothing
here; a key that goes with neither certificate; and ``MATRIX``, client certificates made the ways
OpenSSL users make them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

_NGINX = next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx") if os.path.exists(p)), None)


def _need(tool: str, present: bool) -> None:
    if not present:
        assert os.environ.get("CI") != "true", f"CI must have {tool} (.ci/run installs it)"
        pytest.skip(f"no {tool} here")


def _openssl(directory: Path, *args: str) -> None:
    done = subprocess.run(["openssl", *args], cwd=directory, capture_output=True, text=True)
    assert done.returncode == 0, f"openssl {args}: {done.stderr}"


_EC = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")


def _ca(directory: Path, name: str) -> None:
    _openssl(directory, "req", "-x509", *_EC, "-keyout", f"{name}.key", "-out", f"{name}.pem",
             "-subj", f"/CN=ringload {name}", "-days", "2", "-addext", "basicConstraints=critical,CA:TRUE")  # fmt: skip


def _sign(directory: Path, csr: str, out: str, extfile: str | None) -> None:
    """``extfile`` None: no extensions at all, which makes an X.509 v1 certificate."""
    extensions = ("-extfile", extfile) if extfile else ()
    _openssl(directory, "x509", "-req", "-in", csr, "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", *extensions, "-out", out, "-days", "2")  # fmt: skip


def _leaf(directory: Path, name: str, subject: str, extensions: str) -> None:
    _openssl(directory, "req", *_EC, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject)
    (directory / f"{name}.ext").write_text(extensions)
    _sign(directory, f"{name}.csr", f"{name}.pem", f"{name}.ext")


# (certificate, key file, common name): `openssl x509 -req` without extensions (X.509 v1, as most
# mTLS tutorials make client certificates) and with them (v3), for an RSA and an ECDSA key, each
# key in both files OpenSSL writes (PKCS#8, and PKCS#1 for RSA or SEC1 for EC).
MATRIX = [
    (f"{algorithm}-{version}.pem", f"{algorithm}-{key_format}.key", f"{algorithm}-{version}")
    for algorithm, key_formats in (("rsa", ("pkcs1", "pkcs8")), ("ec", ("sec1", "pkcs8")))
    for version in ("v1", "v3")
    for key_format in key_formats
]


def _matrix(directory: Path) -> None:
    for algorithm, option, traditional in (
        ("RSA", "rsa_keygen_bits:2048", "rsa-pkcs1.key"),
        ("EC", "ec_paramgen_curve:P-256", "ec-sec1.key"),
    ):
        name = algorithm.lower()
        # genpkey writes PKCS#8; -traditional rewrites it as PKCS#1 or SEC1.
        _openssl(directory, "genpkey", "-algorithm", algorithm, "-pkeyopt", option, "-out", f"{name}-pkcs8.key")
        _openssl(directory, "pkey", "-in", f"{name}-pkcs8.key", "-traditional", "-out", traditional)
        for version in ("v1", "v3"):
            _openssl(directory, "req", "-new", "-key", f"{name}-pkcs8.key", "-subj", f"/CN={name}-{version}",
                     "-out", f"{name}.csr")  # fmt: skip
            _sign(directory, f"{name}.csr", f"{name}-{version}.pem", "client.ext" if version == "v3" else None)


@dataclass
class Pki:
    dir: Path

    def __getitem__(self, name: str) -> str:
        return str(self.dir / name)


def make_pki(directory: Path) -> Pki:
    _need("openssl", shutil.which("openssl") is not None)
    _ca(directory, "ca")
    _ca(directory, "other-ca")
    _leaf(directory, "server", "/CN=localhost",
          "basicConstraints=critical,CA:FALSE\nsubjectAltName=DNS:localhost\n")  # fmt: skip
    _leaf(directory, "client", "/CN=load-client", "basicConstraints=critical,CA:FALSE\nextendedKeyUsage=clientAuth\n")
    _openssl(directory, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "other.key")
    (directory / "both.pem").write_text((directory / "client.pem").read_text() + (directory / "client.key").read_text())
    _matrix(directory)
    return Pki(directory)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class MtlsNginx:
    """nginx on 127.0.0.1 requiring a certificate signed by ``pki``'s CA; ``/`` answers 200 with
    the client certificate's subject, and 400 to a client that sent none. ``/seen?cn=NAME``
    answers 200 with ``SUCCESS CN=NAME`` when nginx verified a certificate for ``CN=NAME``, else
    403 (for clients that only report status codes, as ``ringload.run``)."""

    def __init__(self, pki: Pki, directory: Path) -> None:
        _need("nginx", _NGINX is not None)
        self.port = _free_port()
        prefix = directory / "nginx"
        (prefix / "logs").mkdir(parents=True)
        config = f"""daemon off; master_process off; worker_processes 1; pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {prefix}/body; proxy_temp_path {prefix}/proxy; fastcgi_temp_path {prefix}/fcgi;
  uwsgi_temp_path {prefix}/uwsgi; scgi_temp_path {prefix}/scgi;
  server {{
    listen 127.0.0.1:{self.port} ssl;
    ssl_certificate {pki["server.pem"]}; ssl_certificate_key {pki["server.key"]};
    ssl_client_certificate {pki["ca.pem"]}; ssl_verify_client on;
    location / {{ return 200 "$ssl_client_s_dn"; }}
    location = /seen {{
      set $seen "$ssl_client_verify $ssl_client_s_dn";
      if ($seen != "SUCCESS CN=$arg_cn") {{ return 403; }}
      return 200 $seen;
    }}
  }}
}}
"""
        (prefix / "nginx.conf").write_text(config)
        self._process = subprocess.Popen(
            [_NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf")],  # type: ignore[list-item]
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"nginx exited: {self._process.stderr.read().decode()}")  # type: ignore[union-attr]
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("nginx did not start listening within 10 s")

    def url(self, host: str = "localhost") -> str:
        return f"https://{host}:{self.port}"

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(timeout=10)
