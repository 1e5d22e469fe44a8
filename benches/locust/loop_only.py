"""Locust's own per-request cost: a User whose task fires ``events.request`` and sends nothing.

This is the ceiling for any Locust drop-in: what the task loop, the event and the statistics cost
on one core with no HTTP at all.
"""

import time

from locust import User, constant, task


class LoopOnly(User):
    wait_time = constant(0)

    @task
    def index(self):
        self.environment.events.request.fire(
            request_type="GET",
            name="/",
            response_time=0.1,
            response_length=17,
            response=None,
            context={},
            exception=None,
            start_time=time.time(),
            url="/",
        )
