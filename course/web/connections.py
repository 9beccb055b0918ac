"""The socket between a module page and its kernel, which the server can close with a word.

jupyter_server ends a kernel without telling the pages connected to it: their socket stays open and silent,
so a page would go on sending answers that nobody saves. Here, whatever ends a kernel (a reload or a second
tab that replaced it, idle culling, the page's own shutdown, the end of the learner's session), its pages
first hear that the kernel is dead, as jupyter_server tells them when a restart fails, with why when the
session ended, and then the socket closes; the page says so at once.

A page whose browser froze (a laptop closed, a network gone) leaves its socket open but silent: it is pinged,
and dropped once it has answered no ping for `ping_timeout` seconds (`pings`), so that its kernel is then
left unattended (`course.web.kernels`) and ends.
"""
from __future__ import annotations

import weakref

from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from tornado.websocket import WebSocketClosedError

from course import upstream

_OPEN: dict[str, weakref.WeakSet] = {}  # kernel id: its pages' live connections
PING_TIMEOUT_SECONDS = 20  # a browser answers a ping at once, even from a tab in the background
PINGS_PER_TIMEOUT = 4


class EndableConnection(ZMQChannelsWebsocketConnection):
    """jupyter_server's connection, registered by kernel while it is open (`end`)."""

    def connect(self):
        _OPEN.setdefault(self.kernel_id, weakref.WeakSet()).add(self)
        self._busy()
        return super().connect()

    def handle_incoming_message(self, incoming_msg):
        self._busy()
        return super().handle_incoming_message(incoming_msg)

    def _busy(self):
        """Tell the pools' gate the page is in use: no refill starts until it goes quiet (`pools.Gate`)."""
        gate = getattr(self.multi_kernel_manager, "gate", None)
        if gate is not None:
            gate.page_busy(self.kernel_id)

    def disconnect(self):
        _OPEN.get(self.kernel_id, set()).discard(self)
        return super().disconnect()


def end(kernel_id: str, why: str = "") -> None:
    """Tell every page connected to `kernel_id` that its kernel is dead, and `why` if it is known (the reason
    the learner's session ended, `course.store.answers.SIGNED_OUT` and the rest), then close their sockets."""
    for connection in list(_OPEN.pop(kernel_id, ())):
        try:
            upstream.tell_kernel_dead(connection, why)
        except WebSocketClosedError:
            pass  # the page is already gone
        connection.websocket_handler.close()


def attended(kernel_id: str) -> bool:
    """Whether any page is connected to `kernel_id` now."""
    return bool(_OPEN.get(kernel_id))


def pings(ping_timeout: int) -> dict:
    """The server settings that drop a page's socket once its browser has answered no ping for `ping_timeout`
    seconds (0: never; no pings either), pinging it PINGS_PER_TIMEOUT times as often: it is dropped within
    1.25 times that, and closed 5 s later (tornado's wait for the browser's goodbye).

    These are jupyter_server's own pings (`ws_ping_interval`, `ws_ping_timeout`, in ms; by default every 30 s,
    dropped after 90 s without an answer). tornado's `websocket_ping_interval` and `websocket_ping_timeout` do
    nothing on a kernel's socket: jupyter_server's handler replaces the properties that read them."""
    return {"ws_ping_interval": ping_timeout * 1000 // PINGS_PER_TIMEOUT, "ws_ping_timeout": ping_timeout * 1000}
