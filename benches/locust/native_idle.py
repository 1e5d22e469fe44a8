"""Many mostly idle native users: each sends a request, then waits 1 to 2 s (Locust's between)."""

from locust import between
from ringload import NativeUser, Request


class NativeIdle(NativeUser):
    wait_time = between(1, 2)
    requests = [Request("GET", "/", name="/")]
