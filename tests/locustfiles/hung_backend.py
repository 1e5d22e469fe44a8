"""A backend that hangs for 20 s: ``-t`` must still end the run on time."""

from locust import FastHttpUser, constant, task


class Waiting(FastHttpUser):
    wait_time = constant(0)

    @task
    def hang(self):
        self.client.get("/v1/hang")
