"""A session cookie set in on_start travels with the native user's requests."""

from locust import constant
from ringload import NativeUser, Request


class CookieUser(NativeUser):
    wait_time = constant(0.01)
    requests = [Request("GET", "/cookies/check", name="/cookies/check")]

    def on_start(self):
        self.client.get("/cookies/set")
