"""A LoadTestShape ramping native users up and down: 2, then 6, then 1."""

from _steps import Steps  # noqa: F401  (the shape Locust runs)
from locust import constant
from ringload import NativeUser, Request


class Paced(NativeUser):
    wait_time = constant(0.05)
    requests = [Request("GET", "/health", name="/health")]
