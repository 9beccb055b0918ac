"""What ipykernel logs in a learner's kernel goes to the server's log, never to the learner's page.

ipykernel logs a comm the page opened but whose target refused it (ipywidgets, say, refusing a widget
protocol version it does not speak) with its traceback, to its module logger `ipykernel.comm`, which has no
handler. Python then writes the record to `sys.stderr` (`logging.lastResort`), and in a kernel that is a
stream to the page: the traceback, with the server's file paths, reached the browser. Here ipykernel's
module loggers hand their records to the kernel's own log instead, which ipykernel writes to the kernel
process's standard error: the server's log. The page only sees the comm closed again.
"""
from __future__ import annotations

import logging

from IPython import get_ipython


class KernelLog(logging.Handler):
    """Hands each record to the running kernel's own log; outside a kernel (a process that only imports the
    course's modules), to Python's last resort: standard error."""

    def emit(self, record: logging.LogRecord) -> None:
        kernel = getattr(get_ipython(), "kernel", None)
        (kernel.log if kernel is not None else logging.lastResort).handle(record)


def to_server_log() -> None:
    """Send ipykernel's module loggers (`ipykernel.comm` among them) to the kernel's own log."""
    logging.getLogger("ipykernel").addHandler(KernelLog())
