"""Every error the course sites send is the course's readable page (`course.web.errors`): the right status, a
plain sentence that says what to do, a link to the course index, HTML in UTF-8, and nothing else: no
traceback, no server path, nothing the request said. Each request is sent raw, byte for byte, to a real
cohort site and a real self-paced site; among them, those that got a 500, an empty body or no reply at all."""
import json
import re
import socket

import httpx
import pytest
from conftest import ROOT, Server, signed_in, start_cohort

CANARY = b"zqcanary"  # in every request's address: never in the page that answers it
MODULE = "/voila/render/01-why-men-why-now.ipynb"


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    """{"cohort": (server, headers of a signed-in learner), "public": (server, {})}."""
    cohort, codes = start_cohort(tmp_path_factory.mktemp("errors-cohort"), "--pool-size", "0")
    folder = tmp_path_factory.mktemp("errors-public")
    public = Server(["serve", "--no-browser", "--instance", str(folder / "instance"), "--pool-size", "0"],
                    folder / "voila.log")
    try:
        public.start()
        yield {"cohort": (cohort, signed_in(cohort.port, "ben", codes["ben"])), "public": (public, {})}
    finally:
        cohort.stop()
        public.stop()


def send(port: int, head: bytes) -> tuple[int, dict, bytes]:
    """Send `head` (a request line and headers, exactly as given) and read the answer to its end."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(head + b"\r\n")
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    assert answer, "no reply: the connection was closed in silence"
    status_line, *lines = answer.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, answer.partition(b"\r\n\r\n")[2]


OTHERS_KERNEL = "/api/kernels/5e1f0000-0000-4000-8000-000000000000"  # nobody's: refused as not theirs
# (site, method, address, signed in, extra header lines, status)
CASES = [
    # Voilà's static handlers: an encoded traversal, and template paths that are not <template>/static/<file>
    ("cohort", "GET", "/voila/static/..%2f..%2fzqcanary", False, b"", 403),
    ("cohort", "GET", "/voila/templates/allies/static/..%2f..%2f..%2fzqcanary", True, b"", 404),
    ("cohort", "GET", "/voila/templates/..%2f/static/zqcanary", True, b"", 404),
    ("cohort", "GET", "/voila/templates/allies/zqcanary", True, b"", 404),
    ("public", "GET", "/voila/templates/allies/static/..%2f..%2f..%2fzqcanary", False, b"", 404),
    # not UTF-8, in the path or the query
    ("cohort", "GET", "/voila/render/%ffzqcanary.ipynb", True, b"", 400),
    ("cohort", "GET", "/login?next=%ffzqcanary", False, b"", 400),
    ("public", "GET", "/voila/render/%ffzqcanary.ipynb", False, b"", 400),
    # control characters in a page's path (a NUL was a 500)
    ("cohort", "GET", "/voila/render/zqcanary%00.ipynb", True, b"", 400),
    ("public", "GET", "/voila/render/zq%0acanary.ipynb", False, b"", 400),
    # methods no route takes
    ("cohort", "PROPFIND", "/?zqcanary", True, b"", 405),
    ("cohort", "FOO", MODULE + "?zqcanary", True, b"", 405),
    ("public", "PROPFIND", "/?zqcanary", False, b"", 405),
    # addresses no route matches, and routes that refuse
    ("cohort", "GET", "/zqcanary", True, b"", 404),
    ("cohort", "GET", "/api/zqcanary", True, b"", 404),
    ("cohort", "GET", "/static/zqcanary.js", True, b"", 404),
    ("cohort", "GET", "/voila/zqcanary", True, b"", 404),
    ("cohort", "GET", "/voila/labextensions/zqcanary", True, b"", 404),
    ("cohort", "GET", "/voila/render/99-zqcanary.ipynb", True, b"", 404),
    ("cohort", "GET", "/voila/files/zqcanary", True, b"", 403),
    ("cohort", "GET", OTHERS_KERNEL + "?zqcanary", True, b"", 403),
    ("cohort", "POST", OTHERS_KERNEL.replace("/api/kernels/", "/voila/api/shutdown/") + "?zqcanary", True, b"",
     403),
    ("cohort", "POST", "/login?zqcanary", False, b"", 403),
    ("public", "GET", "/zqcanary", False, b"", 404),
    ("public", "GET", "/logout?zqcanary", False, b"", 404),
    # what tornado refuses before any handler: a head over 64 KiB, a header line it cannot parse
    ("cohort", "GET", "/?zqcanary", True, b"X-Big: " + b"a" * 70_000 + b"\r\n", 431),
    ("cohort", "GET", "/?zqcanary", False, b"zqcanary without a colon\r\n", 400),
    ("public", "GET", "/?zqcanary", False, b"Cookie: " + b"a" * 70_000 + b"\r\n", 431),
]


@pytest.mark.parametrize("site, method, address, signed, extra, status", CASES,
                         ids=[f"{c[0]} {c[1]} {c[2][:48]}{' (signed in)' * c[3]} {c[5]}" for c in CASES])
def test_every_error_is_the_courses_readable_page(sites, site, method, address, signed, extra, status):
    server, learner = sites[site]
    headers = "".join(f"{name}: {value}\r\n" for name, value in (learner if signed else {}).items())
    head = (f"{method} {address} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nConnection: close\r\n{headers}"
            .encode() + extra)
    got, response_headers, body = send(server.port, head)
    assert got == status, (got, body[:300])
    assert response_headers.get("content-type", "").lower() == "text/html; charset=utf-8", response_headers
    assert_course_page(body.decode("utf-8"))


def assert_course_page(text: str, base_url: str = "/") -> None:
    """`text` is the course's error page for a site at `base_url`: a title and heading that say what happened,
    a sentence that says what to do, the site's style sheet and the way back to its index; no traceback, no
    server path, nothing the request said."""
    title, heading = re.search(r"<title>(.*) — Allies in Tech</title>", text), re.search(r"<h1>(.+)</h1>", text)
    assert title and title.group(1).strip() and heading and title.group(1) == heading.group(1), text
    words = re.sub(r"<[^>]+>", " ", text.split("<body>")[-1]).split()
    assert len(words) >= 10 and f'<a href="{base_url}">' in text, text
    assert f'href="{base_url}voila/templates/allies/static/allies.css"' in text, text
    for leak in ("Traceback", 'File "', "/work/", ".venv", "site-packages", str(ROOT)):
        assert leak not in text, leak
    assert CANARY.decode() not in text.lower()


def test_each_site_says_what_to_do_in_its_own_words(sites):
    """The self-paced site has no facilitator and no sign-in: its pages once told its learner to "sign in
    again or ask your facilitator". A page for another name than this computer's is refused (403) there."""
    server, _ = sites["public"]
    got, _, body = send(server.port, f"GET {MODULE} HTTP/1.1\r\nHost: rebound.example:{server.port}\r\n"
                                     "Connection: close\r\n".encode())
    text = body.decode("utf-8")
    assert got == 403 and "open the course at the address the site printed" in text, (got, text[:400])
    assert not re.search(r"facilitator|sign in", text, re.I)
    assert not re.search(r'href="/', text), "every address under a refused name is refused: a link went in a loop"
    cohort, learner = sites["cohort"]
    headers = "".join(f"{name}: {value}\r\n" for name, value in learner.items())
    got, _, body = send(cohort.port, f"GET {OTHERS_KERNEL} HTTP/1.1\r\nHost: 127.0.0.1:{cohort.port}\r\n"
                                     f"Connection: close\r\n{headers}".encode())
    assert got == 403 and "sign in again or ask your facilitator" in body.decode("utf-8")
    # What a module page says if part of it fails to show, and the failure comes back (frontend/src/page.js)
    page = httpx.get(f"http://127.0.0.1:{server.port}{MODULE}", timeout=120)
    config = json.loads(re.search(r'id="jupyter-config-data"[^>]*>(.*?)</script>', page.text, re.S).group(1))
    assert page.status_code == 200 and config["alliesIfItComesBack"].startswith("stop the course site (Ctrl+C")
