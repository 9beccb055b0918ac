"""A hub service that answers at once while it starts.

JupyterHub waits about 10 s for a service it starts to answer HTTP, then stops itself
(`JupyterHub.start_service`; not configurable). The dashboard service's imports took 4.7 s on a 2-core
machine with one core free (jupyter_server's jsonschema builds rfc3987_syntax's parsers), and over 10 s on a
busy one. So this command listens on the service's port before importing anything heavy, answers every
request with a page that says the service is starting and reloads itself, and hands the port over just
before the service listens there.

    python -m course.web.starting course.web.hub_dashboard   # the hub's command for the dashboard service
"""
from __future__ import annotations

import importlib
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

PAGE = ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'><title>Starting</title></head>"
        "<body><main><h1>Starting</h1><p>This page is starting. It will open by itself in a few seconds.</p>"
        "</main></body></html>").encode()


class _StartingPage(BaseHTTPRequestHandler):
    """The page, 200 to a GET or HEAD (the hub's check takes any answer under 500 as up); 503 to any other
    method, which nothing can do yet. It names no server software."""

    server_version, sys_version = "Allies in Tech", ""

    def do_GET(self):
        self.send_response(200 if self.command in ("GET", "HEAD") else 503)
        for name, value in (("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(PAGE))),
                            ("Cache-Control", "no-store"), ("Refresh", "2"), ("Retry-After", "2")):
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(PAGE)

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def log_message(self, *args) -> None:
        """Quiet: the hub polls this page while the service starts."""


class Starting:
    """The starting page on `host`:`port`, from a thread, until `close()`."""

    def __init__(self, host: str, port: int):
        self.server = ThreadingHTTPServer((host, port), _StartingPage)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def main(module: str) -> None:
    """Answer on the port of JUPYTERHUB_SERVICE_URL, then run `module.serve(starting)`."""
    url = urlparse(os.environ["JUPYTERHUB_SERVICE_URL"])
    starting = Starting(url.hostname, url.port)
    importlib.import_module(module).serve(starting)


if __name__ == "__main__":
    main(sys.argv[1])
