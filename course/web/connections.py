"""The socket between a module page and its kernel, which the server can close with a word.

jupyter_server ends a kernel without telling the pages connected to it: their socket stays open and silent,
so a page would go on sending answers that nobody saves. Here, whatever ends a kernel (a reload or a second
tab that replaced it, idle culling, the page's own shutdown, the end of the learner's session), its pages
first hear that the kernel is dead, as jupyter_server tells them when a restart fails, with why when the
session ended, and then the socket closes; the page says so at once.
"""
from __future__ import annotations

import weakref

from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from tornado.websocket import WebSocketClosedError

from course import upstream

_OPEN: dict[str, weakref.WeakSet] = {}  # kernel id: its pages' live connections


class EndableConnection(ZMQChannelsWebsocketConnection):
    """jupyter_server's connection, registered by kernel while it is open (`end`)."""

    def connect(self):
        _OPEN.setdefault(self.kernel_id, weakref.WeakSet()).add(self)
        return super().connect()

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
