"""Run with a host that lacks http:// (``-H 127.0.0.1:8080``): every request fails before it is sent."""

from locust import FastHttpUser, constant, task


class Schemeless(FastHttpUser):
    wait_time = constant(0.05)

    @task
    def index(self):
        self.client.get("/v1/items")
