"""Native users beside Locust's FastHttpUser in one locustfile, split by weight."""

from locust import FastHttpUser, constant, task
from ringload import NativeUser, Request


class Native(NativeUser):
    weight = 3
    wait_time = constant(0)
    headers = {"X-Api-Key": "test-key"}
    requests = [Request("GET", "/v1/products", name="native list")]


class Python(FastHttpUser):
    weight = 1
    wait_time = constant(0.01)

    @task
    def health(self):
        self.client.get("/health")
