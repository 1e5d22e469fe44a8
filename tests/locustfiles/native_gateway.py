"""Native users against an API gateway: an API key, three names, a JSON POST, 429 accepted."""

from locust import constant
from ringload import NativeUser, Request


class Gateway(NativeUser):
    wait_time = constant(0)
    headers = {"X-Api-Key": "test-key", "Accept": "application/json"}
    requests = [
        Request("GET", "/v1/products", name="GET /v1/products", weight=2),
        Request("GET", "/v1/products/{{rand_int 1000 2000}}", name="GET /v1/products/:id", weight=2),
        Request("POST", "/v1/products", json={"name": "widget", "price": 3}, name="POST /v1/products"),
        Request("GET", "/v1/limited", name="GET /v1/limited"),
    ]
    ok_status = (200, 201, 429)
