"""Fixtures for the Locust harness: the API server, the run modes, and bound runners."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from apiserver import ApiServer
from locust_runner import MODES, LocustResult, require_mode, run_locust, run_locust_distributed

pytest_plugins = ["pytester"]

LOCUSTFILES = Path(__file__).parent / "locustfiles"


@pytest.fixture(scope="session")
def _api_server_session() -> Iterator[ApiServer]:
    server = ApiServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def api_server(_api_server_session: ApiServer) -> ApiServer:
    """The shared API server with its counters (and rate-limit counter) reset for this test."""
    _api_server_session.reset()
    return _api_server_session


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    """Each test that takes `mode` runs once per mode; ringload modes skip without ringload."""
    require_mode(request.param)
    return request.param


@pytest.fixture
def locust(mode: str, api_server: ApiServer, tmp_path: Path) -> Callable[..., LocustResult]:
    """run_locust bound to this test's mode, server and tmp_path: ``locust("personas.py", users=8, ...)``."""

    def run(locustfile: str, **kwargs) -> LocustResult:
        return run_locust(LOCUSTFILES / locustfile, api_server.url, mode=mode, workdir=tmp_path, **kwargs)

    return run


@pytest.fixture
def locust_distributed(mode: str, api_server: ApiServer, tmp_path: Path) -> Callable[..., LocustResult]:
    """run_locust_distributed (master + workers as separate processes) bound like `locust`."""

    def run(locustfile: str, **kwargs) -> LocustResult:
        return run_locust_distributed(LOCUSTFILES / locustfile, api_server.url, mode=mode, workdir=tmp_path, **kwargs)

    return run
