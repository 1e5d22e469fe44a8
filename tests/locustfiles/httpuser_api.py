"""An HttpUser locustfile using requests-style arguments (for ``ringload-locust --patch-httpuser``)."""

from locust import HttpUser, between, task


class ApiClient(HttpUser):
    wait_time = between(0, 0.005)

    def on_start(self):
        # Which engine is underneath: reported as its own name so the test can tell.
        engine = "ringload" if type(self.client).__module__.startswith("ringload") else "requests"
        self.client.get("/health", name=f"engine:{engine}", timeout=5)
        response = self.client.post("/v1/login", json={"username": "ada", "password": "pw"}, timeout=(2, 5))
        self.token = response.json()["token"]

    @task(3)
    def products(self):
        self.client.get("/v1/products", headers={"X-Api-Key": "test-key"}, params={"page": 2}, timeout=5, verify=False)

    @task
    def me(self):
        self.client.get("/v1/me", headers={"Authorization": f"Bearer {self.token}"}, allow_redirects=True)
