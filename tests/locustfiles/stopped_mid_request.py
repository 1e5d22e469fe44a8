"""Users stopped while their request is out: an endpoint that pushes back with a 429 after 0.2 s,
which the locustfile accepts, so a stop must not turn the request in flight into a failure."""

from locust import FastHttpUser, constant, task


class PushedBack(FastHttpUser):
    wait_time = constant(0)

    @task
    def limited(self):
        with self.client.get("/v1/slow-limited", catch_response=True) as resp:
            if resp.status_code == 429:
                resp.success()
