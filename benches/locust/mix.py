"""The benchmark's seed-style locustfile: untouched Locust code, as an API-gateway test is written.

Four headers on every request, ``name=`` grouping of ids, a JSON POST, and ``catch_response``
deciding success or failure from the body.
"""

import random

from locust import FastHttpUser, constant, task

HEADERS = {
    "x-api-key": "bench-key-0123456789",
    "accept": "application/json",
    "x-request-source": "locust",
    "x-tenant": "acme",
}


class GatewayUser(FastHttpUser):
    wait_time = constant(0)

    @task(4)
    def list_products(self):
        self.client.get("/v1/products", headers=HEADERS, name="/v1/products")

    @task(3)
    def product(self):
        self.client.get(f"/v1/products/{random.randint(1, 500)}", headers=HEADERS, name="/v1/products/[id]")

    @task(2)
    def add_to_cart(self):
        self.client.post("/v1/cart", json={"sku": random.randint(1, 500), "qty": 1}, headers=HEADERS, name="/v1/cart")

    @task(1)
    def checked(self):
        with self.client.get("/v1/health", headers=HEADERS, name="/v1/health", catch_response=True) as response:
            if response.content and b"hello" in response.content:
                response.success()
            else:
                response.failure("unexpected body")
