"""The course sites' one error page: what happened and what to do, in the course's words, with a link to the
course index. Never a traceback, a server path or anything the request said: the page is chosen by status
code alone. Every route of the sites (`everywhere`), every address no route matches (`for_unknown_addresses`)
and the front door's own refusals (`page`) send it."""
from __future__ import annotations

import os
from functools import cache
from http import HTTPStatus
from pathlib import Path

import jinja2
from jupyter_server import DEFAULT_TEMPLATE_PATH_LIST
from jupyter_server.base.handlers import APIHandler
from tornado import web

from course import contract

TEMPLATES = Path(__file__).resolve().parents[1] / "jupyter" / "voila" / "templates" / "allies"
CONTENT_TYPE = "text/html; charset=utf-8"

# For each status: what happened (the heading), then what to do; {retry} and {refused}, in the site's words.
SAID = {
    400: ("The course site couldn't read that request",
          "Part of the address or form is something the site doesn't understand. Check the address, or start "
          "again from the course index."),
    403: ("This page isn't open to you",
          "Go back to the course index and carry on from there. If you think you should see this page, "
          "{refused}."),
    404: ("This page doesn't exist", "Check the address, or go back to the course index."),
    405: ("This page can't do that",
          "The course site doesn't take that kind of request here. Go back to the course index."),
    500: ("Something went wrong on the course server",
          "Your saved answers are safe. Reload the page; if this comes back, {retry}."),
}
# Asked for under a name the server refuses (jupyter_server's Host check: DNS rebinding): every address on
# that name is refused too, so this page links to none of them.
WRONG_HOST = ("The course site doesn't answer to this address",
              "The page was asked for under a name the site doesn't use. To carry on, {refused}.")
OTHERWISE = ("The course site couldn't answer that request",
             "Go back to the course index and try again. If this comes back, {retry}.")
# A cohort's learner has a facilitator; on their own copy (`make serve`) the learner runs the site themselves.
HELP = {contract.COHORT: {"retry": "tell your facilitator", "refused": "sign in again or ask your facilitator"},
        contract.SELF_PACED: {"retry": "stop the course site (Ctrl+C where you started it) and start it again",
                              "refused": "open the course at the address the site printed when it started"}}


def help_here() -> dict[str, str]:
    """What a learner is told to do when something fails again, on the site this server runs."""
    return HELP.get(os.environ.get(contract.SITE_ENV), HELP[contract.COHORT])


def pages() -> jinja2.Environment:
    """The sites' page templates: the course's (`error.html`, `waiting.html`) in front of jupyter_server's."""
    return jinja2.Environment(loader=jinja2.FileSystemLoader([str(TEMPLATES), *DEFAULT_TEMPLATE_PATH_LIST]),
                              autoescape=True, extensions=["jinja2.ext.i18n"])


_PAGES = pages()


def page(status: int, said: tuple[str, str] | None = None, base_url: str | None = "/") -> bytes:
    """The page for `status`: `said` (what happened, what to do) or the course's words for that status. Its
    stylesheet and link to the index are under `base_url`; with None it has neither."""
    heading, advice = said or SAID.get(status, OTHERWISE)
    return _PAGES.get_template("error.html").render(status_code=status, heading=heading,
                                                     advice=advice.format_map(help_here()) if said is None else advice,
                                                     base_url=base_url).encode()


def response(status: int, said: tuple[str, str], base_url: str = "/") -> bytes:
    """A whole HTTP/1.1 response carrying the page, its links under `base_url`: the front door sends it on a
    connection it then closes."""
    body = page(status, said, base_url)
    return (f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\nContent-Type: {CONTENT_TYPE}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body


class ErrorPages:
    """Mixed in front of a handler class: its errors (tornado's `send_error`, which every raised `HTTPError`
    and uncaught exception comes to) send the course's page. It reads nothing the handler's `prepare` sets,
    so an error found before it runs (an unknown method, a path that is not UTF-8) still gets a page;
    jupyter_server's own `write_error` needed the signed-in user, and sent an empty body then."""

    host_refused = False

    def check_host(self) -> bool:
        """jupyter_server's Host check (only a JupyterHandler's `prepare` calls it), remembered for the page."""
        self.host_refused = not super().check_host()
        return not self.host_refused

    def write_error(self, status_code: int, **kwargs) -> None:
        self.set_header("Content-Type", CONTENT_TYPE)
        if self.host_refused:
            heading, advice = WRONG_HOST
            body = page(status_code, (heading, advice.format_map(help_here())), base_url=None)
        else:
            body = page(status_code, base_url=self.settings.get("base_url", "/"))
        # jupyter_server's API handlers set a JSON Content-Type as they finish unless told otherwise.
        self.finish(body, **({"set_content_type": CONTENT_TYPE} if isinstance(self, APIHandler) else {}))


@cache
def with_error_pages(handler: type) -> type:
    """`handler`'s class with `ErrorPages` in front (the same class each time)."""
    if issubclass(handler, ErrorPages):
        return handler
    return type(handler.__name__, (ErrorPages, handler), {"__module__": handler.__module__,
                                                          "__doc__": handler.__doc__})


def everywhere(routes: list) -> list:
    """`routes` (tornado's `(pattern, handler class, ...)`) with every handler's errors sent as the course's
    page: Voilà's and tornado's static file handlers sent tornado's bare "404: Not Found", jupyter_server's
    API handlers JSON."""
    return [(pattern, with_error_pages(handler), *rest) for pattern, handler, *rest in routes]


def for_unknown_addresses(settings: dict) -> None:
    """Answer an address that no route matches with the course's 404 page (tornado's default is bare)."""
    settings["default_handler_class"] = with_error_pages(web.ErrorHandler)
    settings["default_handler_args"] = {"status_code": 404}
