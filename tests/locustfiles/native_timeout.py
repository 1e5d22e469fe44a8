"""A backend that hangs, and a network_timeout of half a second: timeouts, named as FastHttpUser's."""

from locust import constant
from ringload import NativeUser, Request


class Patient(NativeUser):
    wait_time = constant(0)
    network_timeout = 0.5
    requests = [Request("GET", "/v1/hang", name="/v1/hang")]
