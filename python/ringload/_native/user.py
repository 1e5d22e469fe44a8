"""`NativeUser`: a Locust user whose requests run entirely in the engine.

The user's greenlet runs `on_start` (ordinary Python with `self.client`, for a login), then
hands the engine this user: the class's `requests` with this instance's `headers` and the
cookies its client holds, on a keep-alive connection of its own, with the class's `wait_time`
after each request. The greenlet then only waits, in Locust's waiting state, so that stopping
the user (a lower user count, a shape, the end of the test) removes it at once.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import gevent
from locust.exception import StopTest, StopUser
from locust.user.users import LOCUST_STATE_RUNNING, LOCUST_STATE_WAITING

from ringload._load import Request
from ringload._native import wait as _wait
from ringload._native.load import load_for, logger, results_for
from ringload._ringload import Result
from ringload.contrib.fasthttp import FastHttpUser

#: Most HTTP/2 streams per connection, as the engine accepts them (servers allow 100 to 1,000).
_MAX_STREAMS = 65_536
#: Statuses that count as success by default: 2xx and 3xx (redirects are not followed).
_DEFAULT_OK = range(200, 400)


@dataclass(frozen=True)
class _Spec:
    """A NativeUser class's attributes, checked and put in the engine's terms once."""

    headers: list[tuple[str, str]]
    scenario: list[tuple]
    #: The requests run in order (``sequence``), not picked by weight (``requests``).
    sequence: bool
    #: (name, method, path) of each request, for the URL a failure is reported with.
    paths: list[tuple[str, str, str]]
    wait: _wait.WaitSpec
    ok_status: Callable[[int], bool]
    #: HTTP/2 (ALPN h2 over TLS, prior knowledge on http://), and a user's streams in flight.
    http2: bool
    streams: int


def _class_error(cls: type, attribute: str, problem: str) -> TypeError:
    return TypeError(f"{cls.__name__}.{attribute}: {problem}")


def _headers_of(cls: type, attribute: str, value: Any) -> list[tuple[str, str]]:
    if value is None:
        return []
    if not isinstance(value, Mapping):
        raise _class_error(cls, attribute, f"must be a dict of str to str, not {type(value).__name__}")
    pairs = []
    for name, text in value.items():
        if not isinstance(name, str) or not isinstance(text, str):
            raise _class_error(cls, attribute, f"{name!r}: {text!r} is not a str to str pair")
        pairs.append((name, text))
    return pairs


def _nearest(cls: type, names: tuple[str, ...]) -> str | None:
    """Which of `names` the class or its nearest parent (below NativeUser) defines."""
    for klass in cls.__mro__:
        if klass is NativeUser:
            return None
        for name in names:
            if name in klass.__dict__ and klass.__dict__[name] is not None:
                return name
    return None


def _spec_of(cls: type[NativeUser]) -> _Spec:
    tasks = [t for t in cls.__dict__.get("tasks", ()) if t is not NativeUser._run_in_engine]
    if tasks:
        raise _class_error(cls, "tasks", "a NativeUser runs its `requests` in the engine; it has no tasks")
    # The nearest class that sets either decides: a subclass may swap one for the other.
    owner = next((c for c in cls.__mro__ if c.__dict__.get("requests") or c.__dict__.get("sequence")), None)
    given = [name for name in ("requests", "sequence") if owner is not None and owner.__dict__.get(name)]
    if len(given) != 1:
        both = "both are set" if given else "neither is set"
        raise _class_error(
            cls, "requests", f"set `requests` (picked by weight) or `sequence` (run in order), not both; {both}"
        )
    attribute = given[0]
    requests = getattr(cls, attribute)
    if not isinstance(requests, Sequence) or isinstance(requests, str | bytes):
        raise _class_error(cls, attribute, "must be a non-empty list of ringload.Request(...)")
    for i, request in enumerate(requests):
        if not isinstance(request, Request):
            raise _class_error(cls, f"{attribute}[{i}]", f"is a {type(request).__name__}, not a ringload.Request")
    rate = getattr(cls, "rate", None)
    if rate is not None:
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate < float("inf"):
            raise _class_error(cls, "rate", f"must be a positive number of requests per second, not {rate!r}")
        # The nearest definition wins (a wait_time where one class sets both): a subclass may set
        # a rate where its parent had a wait_time.
        if _nearest(cls, ("wait_time", "rate")) == "wait_time":
            raise _class_error(
                cls, "rate", "a rate sets when each request is due: remove the class's wait_time, or the rate"
            )
        spec: _wait.WaitSpec | None = ("arrivals", 1.0 / rate, 0.0)
    else:
        spec = _wait.recognise(cls.wait_time)
    if spec is None:
        raise _class_error(cls, "wait_time", f"the engine runs {_wait.SUPPORTED}; {cls.wait_time!r} is not one")
    ok = getattr(cls, "ok_status", None)
    if ok is None:
        ok_codes: Collection[int] = _DEFAULT_OK
    else:
        if isinstance(ok, int) or not isinstance(ok, Collection) or not ok:
            raise _class_error(cls, "ok_status", "must be a non-empty tuple of status codes, e.g. (200, 429)")
        if not all(isinstance(code, int) and not isinstance(code, bool) and 100 <= code <= 999 for code in ok):
            raise _class_error(cls, "ok_status", f"{ok!r}: every status is an int from 100 to 999")
        ok_codes = frozenset(ok)
    http2 = getattr(cls, "http2", False)
    if not isinstance(http2, bool):
        raise _class_error(cls, "http2", f"must be True or False, not {http2!r}")
    streams = getattr(cls, "streams", 1)
    if isinstance(streams, bool) or not isinstance(streams, int) or not 1 <= streams <= _MAX_STREAMS:
        raise _class_error(
            cls, "streams", f"must be a whole number of streams from 1 to {_MAX_STREAMS}, not {streams!r}"
        )
    if streams > 1 and not http2:
        raise _class_error(cls, "streams", "needs http2 = True: HTTP/1.1 sends one request at a time")
    if streams > 1 and spec[0] != "arrivals":
        raise _class_error(
            cls,
            "streams",
            "above 1 needs a `rate`: with a wait_time a user sends its next request after the response, "
            "so it never has two in flight",
        )
    scenario = [r._as_tuple() for r in requests]
    paths = [(r.name if r.name is not None else r.path, r.method, r.path) for r in requests]
    return _Spec(
        headers=_headers_of(cls, "headers", getattr(cls, "headers", None)),
        scenario=scenario,
        sequence=attribute == "sequence",
        paths=paths,
        wait=spec,
        ok_status=ok_codes.__contains__,
        http2=http2,
        streams=streams,
    )


class NativeUser(FastHttpUser):
    """A Locust user whose requests run in ringload's engine, reported as Locust's own stats.

    Class attributes:

    - ``requests``: a list of ``ringload.Request``, picked by weight for each request; or
      ``sequence``: a list run in order on every iteration (a SequentialTaskSet), the same
      placeholder giving the same value in every step of an iteration;
    - ``wait_time``: Locust's ``constant``, ``between``, ``constant_pacing`` or
      ``constant_throughput``, after each request (default ``constant(0)``: back to back);
    - ``headers``: sent with every request; ``on_start`` may set ``self.headers`` per user
      (a token), and the cookies ``self.client`` holds after ``on_start`` are sent too;
    - ``rate``: instead of ``wait_time``, an arrival rate per user (open model): a request is due
      every ``1 / rate`` seconds whatever the responses take; one due while the user's connection
      is busy waits for it, and its latency counts from when it was due;
    - ``ok_status``: the statuses counted as success (default: 2xx and 3xx);
    - ``http2``: each user's connection speaks HTTP/2 (ALPN ``h2`` over TLS, falling back to
      HTTP/1.1 with a warning where the server picks it; prior knowledge on ``http://``);
    - ``streams``: with ``http2`` and ``rate``, how many of a user's requests may be in flight at
      once on its connection (default 1: a request due while one is in flight waits for it);
    - FastHttpUser's ``network_timeout``, ``connection_timeout`` and ``insecure``.
    """

    abstract = True
    requests: ClassVar[Sequence[Request]] = ()
    sequence: ClassVar[Sequence[Request]] = ()
    headers: Mapping[str, str] | None = None
    ok_status: ClassVar[Collection[int] | None] = None
    rate: ClassVar[float | None] = None
    http2: ClassVar[bool] = False
    streams: ClassVar[int] = 1
    _ringload_spec: ClassVar[_Spec]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("abstract", False):
            # Refused when the locustfile is imported, before any connection.
            cls._ringload_spec = _spec_of(cls)
            cls.tasks = [NativeUser._run_in_engine]

    @classmethod
    def engine_result(cls, environment: Any) -> Result | None:
        """The engine's own result of this class's users in the environment's last test (read it
        in a ``quitting`` listener, or after the test): the CLI's report, with microsecond
        percentiles per name (``result.endpoints[i].latency_us``), ``to_html()`` and ``to_csv()``.
        """
        return results_for(environment).get(cls)

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        try:
            # The class's engine run starts with its first user: after a fork, never at import.
            self._class_run = load_for(environment).class_run(self)
        except Exception as e:  # noqa: BLE001 - any failure to start the engine ends the test
            # Raised where Locust spawns users: it logs this and stops the test.
            raise StopTest(f"{type(self).__name__}: {e}") from None

    def _run_in_engine(self) -> None:
        """The user's only task: register with the engine, then wait to be stopped."""
        class_run = self._class_run
        try:
            headers = _headers_of(type(self), "headers", self.headers)
            cookie = self._cookie_header(class_run.host + class_run.cookie_path)
            if cookie is not None and not any(name.lower() == "cookie" for name, _ in headers):
                headers.append(("Cookie", cookie))
            slot = class_run.run.add_user(headers)
        except Exception as e:  # noqa: BLE001 - reported once, not retried in a loop
            # Headers that cannot be sent (set by on_start), or a test that is over: this user
            # stops, and says why, rather than Locust running this task again and again.
            logger.error("%s: this user stops: %s", type(self).__name__, e)
            raise StopUser() from None
        try:
            # Waiting: Locust's stop kills a waiting user at once, whatever --stop-timeout.
            self._state = LOCUST_STATE_WAITING
            while True:
                gevent.sleep(3600)
        finally:
            self._state = LOCUST_STATE_RUNNING
            class_run.run.remove_user(slot)

    def _cookie_header(self, url: str) -> str | None:
        jar = getattr(self.client, "_cookiejar", None)
        if not jar:
            return None
        probe = urllib.request.Request(url)
        jar.add_cookie_header(probe)
        return probe.get_header("Cookie") or probe.unredirected_hdrs.get("Cookie")
