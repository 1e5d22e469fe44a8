"""Certificates made by ``openssl`` and an nginx that requires a client certificate
(``ssl_verify_client on``), both installed by ``.ci/run``; skipped elsewhere when missing.

The PKI: a CA that signed the server's certificate (for ``localhost``, not for 127.0.0.1, so a
hostname check can be seen to fail) and a client certificate; a second CA that signed nothing
here; a key that goes with neither certificate.
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


def _leaf(directory: Path, name: str, subject: str, extensions: str) -> None:
    _openssl(directory, "req", *_EC, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject)
    (directory / f"{name}.ext").write_text(extensions)
    _openssl(directory, "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-extfile", f"{name}.ext", "-out", f"{name}.pem", "-days", "2")  # fmt: skip


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
    return Pki(directory)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class MtlsNginx:
    """nginx on 127.0.0.1 requiring a certificate signed by ``pki``'s CA; ``/`` answers 200 with
    the client certificate's subject, and 400 to a client that sent none."""

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
