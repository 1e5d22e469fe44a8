"""Streamed bodies: incremental Content-Encoding decoders, line splitting, charset detection, and
the response class variant whose ``content`` reads the stream."""

from __future__ import annotations

import codecs
import zlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from requests.structures import CaseInsensitiveDict

if TYPE_CHECKING:
    from ringload._client.responses import FastResponse


class _BrotliStream:
    def __init__(self) -> None:
        import brotli  # type: ignore[import-untyped]

        self._decompressor = brotli.Decompressor()

    def decompress(self, data: bytes) -> bytes:
        return self._decompressor.process(data)

    def flush(self) -> bytes:
        return b""


def _stream_decoder(headers: CaseInsensitiveDict | None) -> Any:
    """An incremental decoder for a streamed body's Content-Encoding (the engine hands streamed
    bodies on as received), or None when it is not encoded."""
    coding = (headers.get("content-encoding") or "" if headers is not None else "").strip().lower()
    if coding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if coding == "deflate":
        return zlib.decompressobj(32 + zlib.MAX_WBITS)  # with a zlib header, as servers send it
    if coding == "br":
        return _BrotliStream()
    return None


_streamed_classes: dict[type, type] = {}
_Response = TypeVar("_Response", bound="FastResponse")


def _streamed(cls: type[_Response]) -> type[_Response]:
    """``cls`` with ``content`` read from the body stream on first use. Streamed responses get
    their own class so that the common one keeps ``content`` a plain attribute (a class-wide
    ``__getattr__`` or property would slow every attribute read of every response)."""
    variant = _streamed_classes.get(cls)
    if variant is None:

        def read_content(self: FastResponse) -> bytes:
            if "_content" not in self.__dict__:
                self.__dict__["_content"] = b"".join(self._chunks(None))
            return self.__dict__["_content"]

        def set_content(self: FastResponse, value: bytes | None) -> None:
            self.__dict__["_content"] = value

        content = property(read_content, set_content, doc="The rest of the body, read when first used.")
        namespace = {"content": content, "__module__": cls.__module__, "__qualname__": cls.__qualname__}
        variant = _streamed_classes[cls] = type(cls.__name__, (cls,), namespace)
    return variant


def _lines(chunks: Iterator[bytes | str]) -> Iterator[str]:
    """Text lines from chunks as they arrive (Locust's FastHttpSession.iter_lines). ``iter_content``
    leaves a chunk as bytes when it does not decode alone, as when a character is split between
    two arrivals: those are decoded together, so the character stays whole."""
    buffer = ""
    decoder = None
    for chunk in chunks:
        if isinstance(chunk, bytes):
            decoder = decoder or codecs.getincrementaldecoder("utf-8")(errors="replace")
            buffer += decoder.decode(chunk)
        else:
            if decoder is not None:
                buffer += decoder.decode(b"", final=True)  # what it holds came before this text
            buffer += chunk
        while "\n" in buffer:
            line, buffer = buffer.split("\n", 1)
            yield line
    if decoder is not None:
        buffer += decoder.decode(b"", final=True)
    if buffer:
        yield buffer


def _detect_encoding(content: bytes) -> str | None:
    try:
        content.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        from charset_normalizer import detect

        return detect(content)["encoding"]
