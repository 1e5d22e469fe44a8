"""An on_start that sets a header no request may carry: the user stops, saying why, once."""

from locust import constant
from ringload import NativeUser, Request


class BadToken(NativeUser):
    wait_time = constant(0)
    requests = [Request("GET", "/health", name="/health")]

    def on_start(self):
        self.headers = {"Authorization": "Bearer a\r\nInjected: yes"}
