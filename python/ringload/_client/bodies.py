"""Request preparation: credentials (Basic auth, URL userinfo), header modes, multipart bodies."""

from __future__ import annotations

import uuid
from base64 import b64encode
from urllib.parse import unquote, urlsplit, urlunsplit

#: How an extra header joins the merged ones (``Session.send``).
_REPLACE, _IF_ABSENT, _APPEND = 0, 1, 2
_NO_HEADERS: dict = {}
_JSON_HEADERS = (("Content-Type", "application/json", _IF_ABSENT), ("Accept", "application/json", _IF_ABSENT))


def _basic_auth(username: str | bytes, password: str | bytes) -> str:
    if isinstance(username, str):
        username = username.encode("latin1")
    if isinstance(password, str):
        password = password.encode("latin1")
    return "Basic " + b64encode(b":".join((username, password))).strip().decode("ascii")


def _split_userinfo(url: str, both_required: bool = True) -> tuple[str, str | None]:
    """The URL without ``user:password@`` and the Basic header that userinfo asks for, if any.

    Credentials never travel in URLs past this point, so they cannot reach events, stats names or
    error messages. Both clients percent-decode the user name and password (then Latin-1 in the
    header) and want a password part (``user:...@``); with ``both_required``, as Locust's
    FastHttpSession, both must be non-empty; without, as requests, either one."""
    if "@" not in url:  # the common case, without parsing: this runs on every request
        return url, None
    parsed = urlsplit(url)
    if "@" not in parsed.netloc:
        return url, None
    netloc = parsed.netloc.rpartition("@")[2]
    bare = urlunsplit((parsed.scheme, netloc, parsed.path, parsed.query, parsed.fragment))
    username, password = parsed.username, parsed.password
    if username is None or password is None:
        return bare, None
    if (username and password) if both_required else (username or password):
        return bare, _basic_auth(unquote(username), unquote(password))
    return bare, None


def _encode_multipart(files: dict, fields: dict | None) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts: list[bytes] = []
    for name, value in (fields or {}).items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + str(value).encode()
        )
    for name, spec in files.items():
        filename, content, content_type = name, spec, "application/octet-stream"
        if isinstance(spec, tuple):
            filename, content = spec[0], spec[1]
            if len(spec) > 2:
                content_type = spec[2]
        elif hasattr(spec, "read"):
            filename = getattr(spec, "name", name)
        if hasattr(content, "read"):
            content = content.read()
        if isinstance(content, str):
            content = content.encode()
        parts.append(
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                f"Content-Type: {content_type}\r\n\r\n"
            ).encode()
            + content
        )
    body = b"\r\n".join(parts) + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"
