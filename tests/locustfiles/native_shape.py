"""A LoadTestShape ramping native users up and down: 2, then 6, then 1."""

from locust import LoadTestShape, constant
from ringload import NativeUser, Request


class Paced(NativeUser):
    wait_time = constant(0.05)
    requests = [Request("GET", "/health", name="/health")]


class Steps(LoadTestShape):
    steps = [(1.5, 2), (3.0, 6), (4.5, 1)]

    def tick(self):
        run_time = self.get_run_time()
        for until, users in self.steps:
            if run_time < until:
                return (users, 100)
        return None
