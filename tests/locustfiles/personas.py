"""Two personas against the product API: many readers, a few writers."""

import random

from locust import FastHttpUser, constant, task

API_HEADERS = {"X-Api-Key": "test-key"}


class ReaderUser(FastHttpUser):
    weight = 3
    wait_time = constant(0)
    default_headers = API_HEADERS

    @task(3)
    def view_product(self):
        product_id = random.randint(1, 500)
        self.client.get(f"/v1/products/{product_id}", name="/v1/products/{id}")

    @task(1)
    def list_products(self):
        self.client.get("/v1/products")


class WriterUser(FastHttpUser):
    weight = 1
    wait_time = constant(0)

    @task
    def create_product(self):
        self.client.post(
            "/v1/products",
            json={"name": f"widget-{random.randint(1, 10_000)}", "price": 19.99},
            headers=API_HEADERS,
        )
