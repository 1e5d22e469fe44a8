"""``python -m ringload`` prints how to use the package."""

print(
    "ringload: use `from ringload import FastHttpUser` in a locustfile, or run untouched locustfiles "
    "with `python -m ringload.locust -f locustfile.py ...` (same arguments as `locust`)."
)
