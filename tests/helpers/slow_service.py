"""A hub service whose start is slow (course.web.starting's test): its import waits until the file in GATE
exists, as the dashboard's imports take seconds; then it serves "served" on the service's port."""
import os
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import urlparse

while not Path(os.environ["GATE"]).exists():
    time.sleep(0.02)


class Served(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"served")


def serve(starting) -> None:
    starting.close()
    HTTPServer(("127.0.0.1", urlparse(os.environ["JUPYTERHUB_SERVICE_URL"]).port), Served).serve_forever()
