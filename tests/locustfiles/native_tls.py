"""Native users over TLS: FastHttpUser's `insecure` (True by default, as Locust's) decides verification."""

import os

from locust import constant
from ringload import NativeUser, Request


class Tls(NativeUser):
    wait_time = constant(0.01)
    insecure = os.environ.get("NATIVE_TLS_VERIFY") != "1"
    requests = [Request("GET", "/", name="home")]
