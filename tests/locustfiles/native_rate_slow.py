"""An arrival rate the server cannot keep up with: 20 requests/s per user, each taking 200 ms."""

from ringload import NativeUser, Request


class TooFast(NativeUser):
    rate = 20
    requests = [Request("GET", "/v1/slow-limited", name="/v1/slow-limited")]
    ok_status = (429,)
