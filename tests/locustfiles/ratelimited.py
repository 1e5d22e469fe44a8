"""An API with a rate limit: a 429 is an accepted answer, anything else but 200 is a failure."""

from locust import FastHttpUser, constant, task


class PoliteClient(FastHttpUser):
    wait_time = constant(0)

    @task
    def limited(self):
        with self.client.get("/v1/limited", catch_response=True) as resp:
            if resp.status_code == 429:
                resp.success()  # the server is allowed to push back
            elif resp.status_code != 200:
                resp.failure(f"unexpected status {resp.status_code}")
