"""stopped_mid_request.py for HttpUser (``--patch-httpuser``)."""

from locust import HttpUser, constant, task


class PushedBack(HttpUser):
    wait_time = constant(0)

    @task
    def limited(self):
        with self.client.get("/v1/slow-limited", catch_response=True) as resp:
            if resp.status_code == 429:
                resp.success()
