"""An arrival rate per user (open model): 20 requests/s each, whatever the responses take."""

from ringload import NativeUser, Request


class Steady(NativeUser):
    rate = 20
    requests = [Request("GET", "/health", name="/health")]
