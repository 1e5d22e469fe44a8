"""The floor of a Locust drop-in on ringload's engine: Locust's loop plus the least a cooperative
request can cost, and nothing of a Locust-compatible client.

Each task sends ``GET /`` through the dispatcher's native session (the request encoded and queued
in Rust, the greenlet parked in the hub, woken with the result) and fires ``events.request`` as
``loop_only.py`` does. No URL building, response objects, redirects, cookies or
``catch_response``: what ``FastHttpSession`` adds on top is the difference between this file and
``locustfile.py`` under ``python -m ringload.locust``.
"""

import time

from greenlet import getcurrent
from locust import User, constant, task
from ringload._dispatch import dispatcher


class ExchangeOnly(User):
    wait_time = constant(0)

    def on_start(self):
        self.dispatcher = dispatcher()
        self.native = self.dispatcher.session(60.0)
        self.url = f"{self.host.rstrip('/')}/"

    @task
    def index(self):
        start_time = time.time()
        token = self.native.send(getcurrent(), "GET", self.url, {}, None, None, None, 60.0, False, None, False)
        raw = self.dispatcher.wait(token)
        self.environment.events.request.fire(
            request_type="GET",
            name="/",
            response_time=raw.total_time * 1000.0,
            response_length=len(raw.body),
            response=None,
            context={},
            exception=None,
            start_time=start_time,
            url=self.url,
        )
