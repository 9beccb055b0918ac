"""The sites' HTTP front door, before any handler runs: request heads and bodies bounded before they are
read, the client's address and scheme taken from the HTTPS proxy in front (when there is one), and the
course's readable error page (`course.web.errors`) for what tornado refuses here, where it would send an
empty reply or none."""
from __future__ import annotations

import asyncio
import socket
from functools import cache

from tornado import httputil
from tornado.httpserver import HTTPServer
from tornado.iostream import IOStream, StreamClosedError, UnsatisfiableReadError
from tornado.web import Application

from course.web import errors

MAX_BODY_BYTES = 1024 * 1024  # no route of the sites takes more: answers travel over the kernel's websocket
MAX_HEAD_BYTES = 64 * 1024  # a request's line and headers (tornado's default)
LINGER_SECONDS = 2  # how long a refused request's remaining bytes are read and dropped

TOO_LARGE = (413, ("That request was too large",
                   f"The course site takes at most {MAX_BODY_BYTES // 1024 // 1024} MiB in one request, and this "
                   "one was larger, so it was not read. Nothing you saved is affected. Go back to the course index."))
HEAD_TOO_LARGE = (431, ("Your browser sent too much with that request",
                        f"The course site reads at most {MAX_HEAD_BYTES // 1024} KiB of headers, and this request "
                        "had more: usually too many or too large cookies. Clear this site's cookies, then go back "
                        "to the course index."))
BAD_REQUEST = (400, errors.SAID[400])
# tornado's whole answer to a request it cannot parse (a malformed header line, a bad Content-Length).
BARE_BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\n\r\n"
_REFUSALS: set[asyncio.Future] = set()


@cache
def refusal(base_url: str, status: int, said: tuple[str, str]) -> bytes:
    """The response for one of the front door's refusals on the site at `base_url` (a hub service's prefix,
    `course.web.hub_dashboard`): its page's style sheet and link to the course index are under it."""
    return errors.response(status, said, base_url)


def http_server(app: Application, behind_proxy: bool) -> HTTPServer:
    """The server for `app`. Behind a proxy (the sites listen on 127.0.0.1, so only a local proxy reaches
    them) the client's address and scheme come from its X-Forwarded-For and X-Forwarded-Proto."""
    return _Server(BoundedBodies(app), xheaders=behind_proxy, max_body_size=MAX_BODY_BYTES,
                   max_header_size=MAX_HEAD_BYTES)


class _Server(HTTPServer):
    def handle_stream(self, stream: IOStream, address) -> None:
        if type(stream) is IOStream:  # the sites serve plain HTTP; an HTTPS proxy is in front of them
            stream = _AnsweringStream(stream.socket, max_buffer_size=stream.max_buffer_size,
                                      read_chunk_size=stream.read_chunk_size)
            stream.base_url = self.request_callback.base_url
        super().handle_stream(stream, address)


class _AnsweringStream(IOStream):
    """A connection's stream that answers what tornado refuses without a readable reply: a request whose
    head is over MAX_HEAD_BYTES, on which tornado closes the connection in silence (431 page), and one it
    cannot parse, for which it sends a bare 400 (400 page)."""

    reading_head = False
    base_url = "/"

    def read_until_regex(self, regex: bytes, max_bytes: int | None = None):
        self.reading_head = True  # tornado's HTTP/1 server reads only a request's head this way
        return super().read_until_regex(regex, max_bytes)

    def read_until(self, delimiter: bytes, max_bytes: int | None = None):
        self.reading_head = False
        return super().read_until(delimiter, max_bytes)

    def write(self, data):
        return super().write(refusal(self.base_url, *BAD_REQUEST) if data == BARE_BAD_REQUEST else data)

    def close(self, exc_info=False) -> None:
        # tornado closes the stream itself when a read passes its `max_bytes`; a copy of the socket keeps the
        # connection open for the page after the stream is closed.
        if self.reading_head and isinstance(exc_info, UnsatisfiableReadError) and not self.closed():
            self.reading_head = False
            task = asyncio.ensure_future(_refuse(IOStream(self.socket.dup()), refusal(self.base_url, *HEAD_TOO_LARGE)))
            _REFUSALS.add(task)  # the event loop keeps only a weak reference to a task
            task.add_done_callback(_REFUSALS.discard)
        super().close(exc_info)


async def _drain(stream: IOStream) -> None:
    while True:
        await stream.read_bytes(65536, partial=True)


async def _refuse(stream: IOStream, response: bytes) -> None:
    """Send `response`, then read and drop what the client is still sending for up to LINGER_SECONDS before
    closing: closing with its bytes unread would reset the connection, and the client could lose the page."""
    try:
        await stream.write(response)
        stream.socket.shutdown(socket.SHUT_WR)
        await asyncio.wait_for(_drain(stream), LINGER_SECONDS)
    except (StreamClosedError, OSError, asyncio.TimeoutError):
        pass  # the client left, or kept sending
    finally:
        stream.close()  # tornado's reading of the rest then ends quietly, as for a client that left


class BoundedBodies(httputil.HTTPServerConnectionDelegate):
    """Answers a request whose body is over MAX_BODY_BYTES with a readable 413 page (tornado's own limit
    answers an empty 400): unread, when its Content-Length says so; as soon as the limit is passed, when it
    comes in chunks of unannounced length."""

    def __init__(self, app: Application):
        self.app, self.base_url = app, app.settings.get("base_url", "/")

    def start_request(self, server_conn, request_conn) -> httputil.HTTPMessageDelegate:
        return _Bounded(self.app.start_request(server_conn, request_conn), request_conn,
                        refusal(self.base_url, *TOO_LARGE))

    def on_close(self, server_conn) -> None:
        self.app.on_close(server_conn)


class _Bounded(httputil.HTTPMessageDelegate):
    def __init__(self, inner: httputil.HTTPMessageDelegate, connection, too_large: bytes):
        self.inner, self.connection, self.refused, self.received = inner, connection, False, 0
        self.too_large = too_large

    def headers_received(self, start_line, headers):
        if headers.get("Transfer-Encoding", "").lower() == "chunked":
            # Counted here, piece by piece (tornado reads at most 64 KiB at a time), so that an over-size
            # body gets this page instead of tornado's empty 400.
            self.connection.set_max_body_size(2**63)
        length = headers.get("Content-Length", "0")
        if not (length.isdigit() and int(length) > MAX_BODY_BYTES):
            return self.inner.headers_received(start_line, headers)
        self.refused = True
        return _refuse(self.connection.detach(), self.too_large)

    def data_received(self, chunk):
        if self.refused:
            return None
        self.received += len(chunk)
        if self.received <= MAX_BODY_BYTES:
            return self.inner.data_received(chunk)
        self.refused = True
        self.inner.on_connection_close()  # the handler never sees the request finish
        return _refuse(self.connection.stream, self.too_large)

    def finish(self) -> None:
        if not self.refused:
            self.inner.finish()

    def on_connection_close(self) -> None:
        if not self.refused:
            self.inner.on_connection_close()
