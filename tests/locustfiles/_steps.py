"""The LoadTestShape the native-user locustfiles share: 2 users, then 6, then 1, over 4.5 s.

A module of its own (Locust puts the locustfile's directory on ``sys.path``), so a locustfile
takes the shape without another locustfile's user classes.
"""

from locust import LoadTestShape


class Steps(LoadTestShape):
    steps = [(1.5, 2), (3.0, 6), (4.5, 1)]

    def tick(self):
        run_time = self.get_run_time()
        for until, users in self.steps:
            if run_time < until:
                return (users, 100)
        return None
