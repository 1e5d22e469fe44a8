"""Native users that log in with ordinary Locust code in on_start, then carry their own token."""

import itertools

from locust import between
from ringload import NativeUser, Request

_user_numbers = itertools.count(1)


class Account(NativeUser):
    wait_time = between(0, 0.01)
    requests = [Request("GET", "/v1/me", name="/v1/me")]

    def on_start(self):
        username = f"user{next(_user_numbers)}"
        resp = self.client.post("/v1/login", json={"username": username, "password": "s3cret"})
        self.headers = {"Authorization": f"Bearer {resp.json()['token']}"}
