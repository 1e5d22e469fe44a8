"""Reads the engine's own result of the native users in a `quitting` listener."""

import json
import os

from locust import constant, events
from ringload import NativeUser, Request


class Measured(NativeUser):
    wait_time = constant(0.005)
    requests = [Request("GET", "/health", name="/health")]


@events.quitting.add_listener
def _write_engine_result(environment, **_kwargs):
    result = Measured.engine_result(environment)
    with open(os.environ["NATIVE_RESULT_FILE"], "w") as f:
        json.dump(None if result is None else json.loads(result.to_json()), f)
