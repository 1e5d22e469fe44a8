"""Native users over HTTP/2: each user's connection speaks h2 (h2c on http://, ALPN on https://).

``NATIVE_H2_MODE`` picks the users:

- ``wait``: a sequence with a wait time, one request at a time per user;
- ``rate``: 20 requests/s per user to a route that takes 200 ms, so about four in flight at once
  on the user's connection (``streams = 8``);
- ``shape`` and ``rate_shape``: users as ``wait`` (a single request) or as ``rate``, under a
  LoadTestShape of 2, then 6, then 1 users.

The engine's result goes to ``NATIVE_RESULT_FILE``.
"""

import json
import os

from locust import constant, events
from ringload import NativeUser, Request

MODE = os.environ.get("NATIVE_H2_MODE", "wait")


class Multiplexed(NativeUser):
    abstract = True
    http2 = True


class SlowRoute(Multiplexed):
    abstract = MODE not in ("rate", "rate_shape")
    rate = 20
    streams = 8
    requests = [Request("GET", "/delay/200", name="slow")]


class Paced(Multiplexed):
    abstract = MODE != "shape"
    wait_time = constant(0.05)
    requests = [Request("GET", "/", name="home")]


class Browse(Multiplexed):
    abstract = MODE != "wait"
    wait_time = constant(0.01)
    sequence = [
        Request("GET", "/", name="home"),
        Request("POST", "/echo", json={"id": "{{rand_int 1 9}}"}, name="echo"),
        Request("GET", "/bytes/2000", name="bytes"),
    ]


if MODE.endswith("shape"):
    from _steps import Steps  # noqa: F401  (the shape Locust runs)


@events.quitting.add_listener
def _write_engine_result(environment, **_kwargs):
    user = next(iter(environment.user_classes))
    result = user.engine_result(environment)
    with open(os.environ["NATIVE_RESULT_FILE"], "w") as f:
        json.dump(None if result is None else json.loads(result.to_json()), f)
