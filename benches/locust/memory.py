"""The memory benchmark's locustfile: users that wait as real ones do, so that neither client is
CPU-bound and both send about the same requests (``benches/scripts/memory_per_user.py``, whose
``--wait`` sets the wait through ``RINGLOAD_BENCH_WAIT``)."""

import os

from locust import FastHttpUser, between, task

WAIT = tuple(float(s) for s in os.environ.get("RINGLOAD_BENCH_WAIT", "5,10").split(","))


class WaitingUser(FastHttpUser):
    wait_time = between(*WAIT)

    @task
    def index(self):
        self.client.get("/")

    @task
    def add_to_cart(self):
        self.client.post("/cart", json={"sku": 42, "qty": 1})
