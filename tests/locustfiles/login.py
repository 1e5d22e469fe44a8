"""Log in once per user, then call an authenticated endpoint with the bearer token."""

import itertools

from locust import FastHttpUser, between, task

_user_numbers = itertools.count(1)


class AccountUser(FastHttpUser):
    wait_time = between(0, 0.01)

    def on_start(self):
        self.username = f"user{next(_user_numbers)}"
        resp = self.client.post("/v1/login", json={"username": self.username, "password": "s3cret"})
        self.token = resp.json()["token"]

    @task
    def who_am_i(self):
        self.client.get("/v1/me", headers={"Authorization": f"Bearer {self.token}"})
