"""Reading a response body within a size limit, decoding it as it arrives.

Pure code: the drivers feed it the raw bytes a transport delivers (``iter_raw``) and
take the decoded body at the end. It exists because neither end may be trusted with
memory: a server can send a body of any size, and a small gzip body can inflate a
thousand-fold; httpx's own decoders inflate each piece without limit. Here every
step is bounded: raw bytes past the limit, or decoded bytes past it, stop the read
with ``ResponseTooLargeError`` before more is kept.
"""

from __future__ import annotations

import zlib

from cmclient import errors

#: The largest response body (decoded) a client accepts by default, in bytes.
DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024

# zlib window bits: gzip (with its header), and deflate as zlib data or raw.
_GZIP = 16 + zlib.MAX_WBITS
_ZLIB = zlib.MAX_WBITS
_RAW = -zlib.MAX_WBITS


class _Inflater:
    """One content coding (gzip or deflate), inflating at most ``room`` bytes a step."""

    def __init__(self, coding: str) -> None:
        self._deflate = coding == "deflate"
        self._zlib = zlib.decompressobj(_GZIP if not self._deflate else _ZLIB)
        self._first = True

    def inflate(self, data: bytes, room: int) -> tuple[bytes, bool]:
        """Inflate ``data`` into at most ``room`` + 1 bytes; the flag says the output
        would have been longer than ``room`` (the caller stops there)."""
        if self._first and self._deflate and data:
            self._first = False
            # "deflate" is zlib data per RFC 9110, yet some servers send it raw.
            if data[0] & 0x0F != 8:
                self._zlib = zlib.decompressobj(_RAW)
        out = self._zlib.decompress(data, room + 1)
        if len(out) > room:
            return out, True
        pieces = [out]
        size = len(out)
        while self._zlib.unconsumed_tail:
            more = self._zlib.decompress(self._zlib.unconsumed_tail, room - size + 1)
            if not more:
                break
            size += len(more)
            if size > room:
                return b"", True
            pieces.append(more)
        return b"".join(pieces), False

    def flush(self) -> bytes:
        return self._zlib.flush()


class BoundedBody:
    """Collects a response body of at most ``limit`` decoded bytes.

    ``content_encoding`` is the response's Content-Encoding header (``""`` when
    absent): identity, gzip (x-gzip) and deflate are decoded, several of them in the
    order the header lists them; any other coding is refused, as cmclient never asks
    for one. ``content_length``, when the head gives it, lets a body that cannot fit
    be refused before a byte of it is read.
    """

    def __init__(
        self,
        limit: int,
        content_encoding: str = "",
        content_length: str | None = None,
        operation_name: str | None = None,
    ) -> None:
        self._limit = limit
        self._operation_name = operation_name
        self._raw = 0
        self._size = 0
        self._parts: list[bytes] = []
        codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
        self._decoders: list[_Inflater] = []
        for coding in reversed(codings):  # the last coding applied is undone first
            if coding in ("gzip", "x-gzip", "deflate"):
                self._decoders.append(_Inflater("deflate" if coding == "deflate" else "gzip"))
            elif coding != "identity":
                raise errors.ConnectionClosedError(
                    f"The response body has a content coding cmclient did not ask for "
                    f"({coding[:20]!r})", operation_name=operation_name,
                )
        if content_length is not None and content_length.isdigit() and not self._decoders:
            self._check(int(content_length))

    def _check(self, size: int) -> None:
        if size > self._limit:
            raise errors.ResponseTooLargeError(
                f"The response body is larger than max_response_bytes={self._limit}",
                operation_name=self._operation_name,
            )

    def feed(self, data: bytes) -> None:
        """Add the next raw piece of the body."""
        self._raw += len(data)
        self._check(self._raw)
        try:
            for decoder in self._decoders:
                data, over = decoder.inflate(data, self._limit - self._size)
                if over:
                    self._check(self._limit + 1)
        except zlib.error:
            raise errors.ConnectionClosedError(
                "The response body could not be decoded", operation_name=self._operation_name
            ) from None
        self._add(data)

    def add_decoded(self, data: bytes) -> None:
        """Add a body someone else has read and decoded already (a mock's)."""
        self._add(data)

    def _add(self, data: bytes) -> None:
        if data:
            self._size += len(data)
            self._check(self._size)
            self._parts.append(data)

    def result(self) -> bytes:
        """The whole decoded body, once every raw piece was fed."""
        tail = b""
        try:
            for decoder in self._decoders:
                if tail:
                    tail, over = decoder.inflate(tail, self._limit - self._size)
                    if over:
                        self._check(self._limit + 1)
                tail += decoder.flush()
        except zlib.error:
            raise errors.ConnectionClosedError(
                "The response body could not be decoded", operation_name=self._operation_name
            ) from None
        self._add(tail)
        return b"".join(self._parts)
