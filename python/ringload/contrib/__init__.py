"""Drop-ins mirroring ``locust.contrib``."""
