"""Redirect chains, gzip bodies and cookies, the way a browser-like client sees them."""

from locust import FastHttpUser, constant, task


class BrowserUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def follow_redirects(self):
        # /redirect/3 -> /redirect/2 -> /redirect/1 -> /redirect/0 -> /v1/landing
        with self.client.get("/redirect/3", catch_response=True) as resp:
            if resp.status_code != 200 or resp.text != "landed":
                resp.failure(f"redirect chain ended with {resp.status_code} {resp.text!r}")

    @task
    def gzip_json(self):
        with self.client.get("/gzip", catch_response=True) as resp:
            data = resp.json()
            if data.get("gzipped") is not True or data.get("items") != list(range(50)):
                resp.failure(f"unexpected body {data!r}")

    @task
    def cookies(self):
        self.client.get("/cookies/set")
        self.client.get("/cookies/check")  # 400 unless the session cookie came back
