"""What the HTTP/1.1 parser answers by itself, before the app sees a request: a URL or headers
too long to accept, or bytes that are not HTTP. uvicorn (under gunicorn) answers these in plain
text and sets no bound on a URL; this protocol bounds both and answers problem+json, as every
other error of holdout is (nginx, where it is in front, does the same for its own limits).
"""

from __future__ import annotations

import json
import sys
from http import HTTPStatus
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Like gunicorn's and nginx's defaults: far more than any URL or header holdout makes.
MAX_URL_BYTES = 8190
MAX_HEADER_BYTES = 32 * 1024


class _Refused(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def problem_bytes(status: int, detail: str, server_headers: list[tuple[bytes, bytes]]) -> bytes:
    """A whole HTTP/1.1 answer with a problem document, closing the connection."""
    phrase = HTTPStatus(status).phrase
    body = json.dumps(
        {"type": "about:blank", "title": phrase, "status": status, "detail": detail}
    ).encode()
    lines = [f"HTTP/1.1 {status} {phrase}\r\n".encode()]
    lines += [name + b": " + value + b"\r\n" for name, value in server_headers]
    lines += [
        b"content-type: application/problem+json\r\n",
        b"content-length: " + str(len(body)).encode() + b"\r\n",
        b"connection: close\r\n\r\n",
        body,
    ]
    return b"".join(lines)


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol: bounds on URL and headers, problem+json refusals."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_bytes = 0

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0

    def on_url(self, url: bytes) -> None:
        if len(self.url) + len(url) > MAX_URL_BYTES:
            raise _Refused(414, f"The URL is longer than {MAX_URL_BYTES} bytes.")
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value) + 4
        if self._header_bytes > MAX_HEADER_BYTES:
            raise _Refused(431, f"The request headers are larger than {MAX_HEADER_BYTES} bytes.")
        super().on_header(name, value)

    def send_400_response(self, msg: str) -> None:
        # Called while the parser's error is handled; a refusal raised in a callback above is
        # that error's context.
        cause = getattr(sys.exc_info()[1], "__context__", None)
        if isinstance(cause, _Refused):
            self._refuse(cause.status, cause.detail)
        else:
            self._refuse(400, "The request is not valid HTTP/1.1.")

    def _refuse(self, status: int, detail: str) -> None:
        if self.transport.is_closing():
            return
        self.logger.info("refused a request: %s %s", status, detail)
        self.transport.write(problem_bytes(status, detail, self.server_state.default_headers))
        self.transport.close()
