"""What differs between the two faces of the client: Locust's ``FastHttpSession``
(``FASTHTTP``) and requests' ``Session`` (``ringload.httpuser.REQUESTS``), as one value."""

from __future__ import annotations

import dataclasses
from http.cookiejar import CookieJar

from ringload._client.bodies import _JSON_HEADERS
from ringload._client.responses import ErrorResponse, FastResponse, ResponseContextManager

#: Statuses Locust's FastHttpSession reports as successes.
VALID_RESPONSE_CODES = frozenset([200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 301, 302, 303, 304, 307, 308])


@dataclasses.dataclass(frozen=True)
class Flavor:
    """A face's policy; the behaviour that differs too (which exceptions, which failure is
    reported) stays in the session's hook methods, which ``HttpSession`` overrides."""

    #: What the session builds.
    response_type: type[FastResponse]
    error_response_type: type[ErrorResponse]
    context_type: type[ResponseContextManager]
    #: Statuses reported as successes.
    valid_codes: frozenset[int]
    #: The Content-Type a body gets unless the caller set one: a form, text, bytes (None: none).
    form_content_type: str | None
    text_content_type: str | None
    bytes_content_type: str | None
    #: Headers a ``json=`` body adds unless the caller set them.
    json_headers: tuple
    #: ``response.request.body`` of a ``json=`` request is its text, as in Locust's
    #: FastHttpSession (other bodies are bytes); requests keeps the bytes.
    request_body_as_given: bool
    #: Whether plain responses carry ``request_meta`` (Locust's HttpSession's do; FastHttpSession's
    #: only under ``catch_response``).
    keeps_request_meta: bool
    #: Whether a followed redirect keeps its hops as ``response.history`` (both Locust clients do).
    keeps_history: bool
    #: The class of ``cookiejar``.
    cookiejar_type: type[CookieJar]
    #: A URL without a scheme (``--host 127.0.0.1:8080``) is a failed request, recorded as Locust's
    #: FastHttpSession records its ``gaierror``; requests raises at the call instead.
    records_missing_scheme: bool
    #: URL userinfo makes a Basic header only with a non-empty user name and password (Locust's
    #: FastHttpSession); requests needs either one (``requests.utils.get_auth_from_url``).
    userinfo_needs_both: bool


FASTHTTP = Flavor(
    response_type=FastResponse,
    error_response_type=ErrorResponse,
    context_type=ResponseContextManager,
    valid_codes=VALID_RESPONSE_CODES,
    form_content_type="application/x-www-form-urlencoded; charset=utf-8",
    text_content_type="text/plain; charset=utf-8",
    bytes_content_type="application/octet-stream",
    json_headers=_JSON_HEADERS,
    request_body_as_given=True,
    keeps_request_meta=False,
    keeps_history=True,
    cookiejar_type=CookieJar,
    records_missing_scheme=True,
    userinfo_needs_both=True,
)
