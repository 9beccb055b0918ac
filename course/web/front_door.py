"""The sites' HTTP front door, before any handler runs: request bodies bounded before they are read, the
client's address and scheme taken from the HTTPS proxy in front (when there is one), and one readable page
for every error, never a traceback."""
from __future__ import annotations

from pathlib import Path

import jinja2
from jupyter_server import DEFAULT_TEMPLATE_PATH_LIST
from tornado import httputil
from tornado.httpserver import HTTPServer
from tornado.web import Application

MAX_BODY_BYTES = 1024 * 1024  # no route of the sites takes more: answers travel over the kernel's websocket
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


class BoundedBodies(httputil.HTTPServerConnectionDelegate):
    """Answers a request that announces a body over MAX_BODY_BYTES with a readable 413 page, without reading
    the body (tornado's own limit answers an empty 400)."""

    def __init__(self, app: Application):
        self.app = app

    def start_request(self, server_conn, request_conn) -> httputil.HTTPMessageDelegate:
        return _Bounded(self.app.start_request(server_conn, request_conn), request_conn)

    def on_close(self, server_conn) -> None:
        self.app.on_close(server_conn)


class _Bounded(httputil.HTTPMessageDelegate):
    def __init__(self, inner: httputil.HTTPMessageDelegate, connection):
        self.inner, self.connection, self.refused = inner, connection, False

    def headers_received(self, start_line, headers):
        length = headers.get("Content-Length", "0")
        if not (length.isdigit() and int(length) > MAX_BODY_BYTES):
            return self.inner.headers_received(start_line, headers)
        self.refused = True
        return self._refuse(self.connection.detach())

    @staticmethod
    async def _refuse(stream) -> None:
        head = (f"HTTP/1.1 413 Content Too Large\r\nContent-Type: text/html; charset=utf-8\r\n"
                f"Content-Length: {len(TOO_LARGE)}\r\nConnection: close\r\n\r\n").encode()
        try:
            await stream.write(head + TOO_LARGE)
        finally:
            stream.close()

    def data_received(self, chunk):
        return None if self.refused else self.inner.data_received(chunk)

    def finish(self) -> None:
        if not self.refused:
            self.inner.finish()

    def on_connection_close(self) -> None:
        if not self.refused:
            self.inner.on_connection_close()
