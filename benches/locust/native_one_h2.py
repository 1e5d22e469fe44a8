"""The one-request NativeUser over HTTP/2 (h2c with prior knowledge on http://): the same request
as ``native_one.py``, each user on an h2 connection of its own."""

from locust import constant
from ringload import NativeUser, Request


class NativeBenchH2(NativeUser):
    wait_time = constant(0)
    http2 = True
    requests = [Request("GET", "/", name="/")]
