"""On the course's web pages, only the kernel makes widgets.

ipywidgets lets a page open a comm to the `jupyter.widget` target, and the kernel then builds and keeps a widget
from whatever state the page sent. The course's pages never do that, but a learner's browser console can, as
often and as large as the socket allows: an attacker review grew a kernel from 109 to 264 MB in 10 s, with no
end in sight. A Voilà kernel closes that target once its notebook runs: ipykernel then answers such a
`comm_open` with `comm_close` and keeps nothing. The page's own `jupyter.widget.control` target (through which
it asks for every widget's state) stays.
"""
from ipywidgets import comm

PAGE_MADE_WIDGETS = "jupyter.widget"


def refuse_page_made_widgets() -> None:
    """Close the `jupyter.widget` comm target in this kernel (idempotent; no kernel, nothing to do)."""
    manager = comm.get_comm_manager()
    if manager is not None and PAGE_MADE_WIDGETS in manager.targets:
        manager.unregister_target(PAGE_MADE_WIDGETS, None)
