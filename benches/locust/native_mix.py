"""The gateway mix of ``mix.py`` as native users: four headers, three names plus a health check, a
JSON POST, 429 counted as success. ``native_mix.json`` is the same requests for ``ringload --scenario``."""

from locust import constant
from ringload import NativeUser, Request

HEADERS = {
    "x-api-key": "bench-key-0123456789",
    "accept": "application/json",
    "x-request-source": "locust",
    "x-tenant": "acme",
}


class NativeGateway(NativeUser):
    wait_time = constant(0)
    headers = HEADERS
    requests = [
        Request("GET", "/v1/products", name="/v1/products", weight=4),
        Request("GET", "/v1/products/{{rand_int 1 500}}", name="/v1/products/[id]", weight=3),
        Request("POST", "/v1/cart", json={"sku": 42, "qty": 1}, name="/v1/cart", weight=2),
        Request("GET", "/v1/health", name="/v1/health", weight=1),
    ]
    ok_status = (200, 201, 429)
