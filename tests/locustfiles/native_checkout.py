"""A checkout as a native sequence: log in, then product, inventory, pricing, cart, order, in order."""

import itertools

from locust import constant
from ringload import NativeUser, Request

_user_numbers = itertools.count(1)
PRODUCT = "{{rand_int 1000 2000}}"


class Checkout(NativeUser):
    wait_time = constant(0)
    headers = {"X-Api-Key": "test-key"}
    sequence = [
        Request("GET", f"/v1/products/{PRODUCT}", name="product"),
        Request("GET", f"/v1/inventory/{PRODUCT}", name="inventory"),
        Request("GET", f"/v1/pricing/{PRODUCT}", name="pricing"),
        Request("POST", "/v1/cart", json={"product": PRODUCT, "qty": 1}, name="cart"),
        Request("POST", "/v1/orders", json={"product": PRODUCT}, name="order"),
    ]

    def on_start(self):
        resp = self.client.post("/v1/login", json={"username": f"buyer{next(_user_numbers)}", "password": "p"})
        self.headers = {**self.headers, "Authorization": f"Bearer {resp.json()['token']}"}
