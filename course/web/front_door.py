"""The sites' HTTP front door, before any handler runs: request bodies bounded before they are read, the
client's address and scheme taken from the HTTPS proxy in front (when there is one), and one readable page
for every error, never a traceback."""
from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import jinja2
from jupyter_server import DEFAULT_TEMPLATE_PATH_LIST
from tornado import httputil
from tornado.httpserver import HTTPServer
from tornado.iostream import IOStream, StreamClosedError
from tornado.web import Application

MAX_BODY_BYTES = 1024 * 1024  # no route of the sites takes more: answers travel over the kernel's websocket
LINGER_SECONDS = 2  # how long a refused request's remaining body is read and dropped
TEMPLATES = Path(__file__).resolve().parents[1] / "jupyter" / "voila" / "templates" / "allies"

TOO_LARGE = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Too large — Allies in Tech</title>
</head><body><main><h1>That request was too large</h1><p>The course site takes at most
{MAX_BODY_BYTES // 1024 // 1024} MiB in one request, and this one was larger, so it was not read. Nothing
you saved is affected. <a href="/">Back to the course</a></p></main></body></html>""".encode()


def error_pages() -> jinja2.Environment:
    """jupyter_server's page templates, with the course's `error.html` in front of its own (which needs
    static files the sites do not serve, so its error pages came out empty)."""
    return jinja2.Environment(loader=jinja2.FileSystemLoader([str(TEMPLATES), *DEFAULT_TEMPLATE_PATH_LIST]),
                              autoescape=True, extensions=["jinja2.ext.i18n"])


def http_server(app: Application, behind_proxy: bool) -> HTTPServer:
    """The server for `app`. Behind a proxy (the sites listen on 127.0.0.1, so only a local proxy reaches
    them) the client's address and scheme come from its X-Forwarded-For and X-Forwarded-Proto."""
    return HTTPServer(BoundedBodies(app), xheaders=behind_proxy, max_body_size=MAX_BODY_BYTES)


async def _drain(stream: IOStream) -> None:
    while True:
        await stream.read_bytes(65536, partial=True)


class BoundedBodies(httputil.HTTPServerConnectionDelegate):
    """Answers a request whose body is over MAX_BODY_BYTES with a readable 413 page (tornado's own limit
    answers an empty 400): unread, when its Content-Length says so; as soon as the limit is passed, when it
    comes in chunks of unannounced length."""

    def __init__(self, app: Application):
        self.app = app

    def start_request(self, server_conn, request_conn) -> httputil.HTTPMessageDelegate:
        return _Bounded(self.app.start_request(server_conn, request_conn), request_conn)

    def on_close(self, server_conn) -> None:
        self.app.on_close(server_conn)


class _Bounded(httputil.HTTPMessageDelegate):
    def __init__(self, inner: httputil.HTTPMessageDelegate, connection):
        self.inner, self.connection, self.refused, self.received = inner, connection, False, 0

    def headers_received(self, start_line, headers):
        if headers.get("Transfer-Encoding", "").lower() == "chunked":
            # Counted here, piece by piece (tornado reads at most 64 KiB at a time), so that an over-size
            # body gets this page instead of tornado's empty 400.
            self.connection.set_max_body_size(2**63)
        length = headers.get("Content-Length", "0")
        if not (length.isdigit() and int(length) > MAX_BODY_BYTES):
            return self.inner.headers_received(start_line, headers)
        self.refused = True
        return self._refuse(self.connection.detach())

    @staticmethod
    async def _refuse(stream: IOStream) -> None:
        """Send the page, then read and drop what the client is still sending for up to LINGER_SECONDS before
        closing: closing with its bytes unread would reset the connection, and the client could lose the page."""
        head = (f"HTTP/1.1 413 Content Too Large\r\nContent-Type: text/html; charset=utf-8\r\n"
                f"Content-Length: {len(TOO_LARGE)}\r\nConnection: close\r\n\r\n").encode()
        try:
            await stream.write(head + TOO_LARGE)
            stream.socket.shutdown(socket.SHUT_WR)
            await asyncio.wait_for(_drain(stream), LINGER_SECONDS)
        except (StreamClosedError, OSError, asyncio.TimeoutError):
            pass  # the client left, or kept sending
        finally:
            stream.close()  # tornado's reading of the rest then ends quietly, as for a client that left

    def data_received(self, chunk):
        if self.refused:
            return None
        self.received += len(chunk)
        if self.received <= MAX_BODY_BYTES:
            return self.inner.data_received(chunk)
        self.refused = True
        self.inner.on_connection_close()  # the handler never sees the request finish
        return self._refuse(self.connection.stream)

    def finish(self) -> None:
        if not self.refused:
            self.inner.finish()

    def on_connection_close(self) -> None:
        if not self.refused:
            self.inner.on_connection_close()
