"""Users with think time, as most load tests have: each keeps a keep-alive connection that sits
idle between requests, which a server may close meanwhile (``benches/scripts/idle_close.py``)."""

from locust import FastHttpUser, between, task


class Shopper(FastHttpUser):
    wait_time = between(0.5, 1.5)

    @task(3)
    def browse(self):
        self.client.get("/v1/products?category=electronics&limit=20", name="GET /v1/products")

    @task(1)
    def add_to_cart(self):
        self.client.post("/v1/cart/items", json={"product_id": 1042, "quantity": 1}, name="POST /v1/cart/items")
