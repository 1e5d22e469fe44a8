"""A checkout funnel: look at a product, check stock and price, add to cart, order."""

import random

from locust import FastHttpUser, SequentialTaskSet, constant, task


class CheckoutFlow(SequentialTaskSet):
    @task
    def view_product(self):
        self.product_id = random.randint(1, 500)
        self.client.get(
            f"/v1/products/{self.product_id}",
            name="/v1/products/{id}",
            headers=self.user.auth_headers,
        )

    @task
    def check_inventory(self):
        self.client.get(
            f"/v1/inventory/{self.product_id}",
            name="/v1/inventory/{id}",
            headers=self.user.auth_headers,
        )

    @task
    def check_price(self):
        self.client.get(
            f"/v1/pricing/{self.product_id}",
            name="/v1/pricing/{id}",
            headers=self.user.auth_headers,
        )

    @task
    def add_to_cart(self):
        resp = self.client.post(
            "/v1/cart",
            json={"product": self.product_id, "qty": random.randint(1, 3)},
            headers=self.user.auth_headers,
        )
        self.cart_id = resp.json()["cart"]

    @task
    def place_order(self):
        self.client.post(
            "/v1/orders",
            json={"cart": self.cart_id, "payment": "card"},
            headers=self.user.auth_headers,
        )


class Shopper(FastHttpUser):
    wait_time = constant(0)
    default_headers = {"X-Api-Key": "test-key"}
    tasks = [CheckoutFlow]

    def on_start(self):
        name = f"shopper{random.randint(1, 1_000_000)}"
        resp = self.client.post("/v1/login", json={"username": name, "password": "pw"})
        self.auth_headers = {"Authorization": f"Bearer {resp.json()['token']}"}
