"""``ringload.run(..., http2=True, streams=N)`` against the built-in target speaking HTTP/2: the
result says the protocol, counts every request once, and matches the CLI's JSON; the options
HTTP/2 cannot honour are refused before any connection."""

from __future__ import annotations

import json
import subprocess

import pytest
import ringload
from cli_binary import rust_cli


def test_h2c_run_multiplexes_and_counts_every_request() -> None:
    with ringload.TargetServer(http2=True) as target:
        result = ringload.run(target.url + "/", requests=2000, connections=4, http2=True, streams=8)
        assert result.protocol == "h2"
        assert result.streams == 8
        assert result.ok == 2000 and target.requests() == 2000
        assert result.connects == 4
        assert result.to_dict()["protocol"] == "h2"
        assert "4 connections x 8 streams, h2" in str(result)


def test_h2_over_tls_and_the_same_json_as_the_cli() -> None:
    with ringload.TargetServer(http2=True, tls=True) as target:
        result = ringload.run(target.url + "/bytes/1000", requests=300, connections=2, http2=True, insecure=True)
        assert result.protocol == "h2" and result.streams == 1
        assert result.ok == 300 and result.body_bytes == 300_000
        cli = subprocess.run(
            [
                rust_cli(),
                "--json",
                "--no-progress",
                "--http2",
                "-n",
                "300",
                "-c",
                "2",
                "--insecure",
                target.url + "/bytes/1000",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        assert json.loads(cli.stdout).keys() == result.to_dict().keys()


def test_a_server_without_http2_gets_an_http1_run() -> None:
    with ringload.TargetServer(tls=True) as target:
        result = ringload.run(target.url + "/", requests=50, connections=2, http2=True, insecure=True)
        assert result.protocol == "http/1.1" and result.streams is None
        assert result.ok == 50
        assert any("did not agree to HTTP/2" in w for w in result.warnings)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"streams": 4}, "streams= is an HTTP/2 option"),
        ({"http2": True, "disable_keepalive": True}, "drop one of disable_keepalive and http2"),
        ({"http2": True, "pipeline": 4}, "use streams=N"),
        ({"http2": True, "streams": 0}, "streams"),
    ],
)
def test_options_http2_cannot_honour_are_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ringload.run("http://127.0.0.1:1/", requests=1, **options)
