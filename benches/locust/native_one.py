"""The benchmark's one-request NativeUser: the same request as ``locustfile.py``, run in the engine."""

from locust import constant
from ringload import NativeUser, Request


class NativeBench(NativeUser):
    wait_time = constant(0)
    requests = [Request("GET", "/", name="/")]
