"""A learner's session in a Voilà kernel: who they are, their saved answers, and submitting a module.

The server, not the browser, says who the learner is: the cohort site's sign-in puts the authenticated
learner id into the request, and Voilà hands it to the kernel (`HTTP_X_ALLIES_LEARNER`). A preheated kernel
is rendered before anyone asks for it, so the id arrives later; widgets are filled in when it does.
"""
from __future__ import annotations

import os
import shutil
import threading
from dataclasses import dataclass, field
from typing import Callable

from traitlets import TraitError

from course import upstream
from course.lesson import comm_targets
from course.lesson.context import in_voila
from course.contract import COURSE_ID, EXCHANGE_ENV, LEARNER_ENV, STORE_ENV, instance_folder
from course.paths import folder, module_of

SAVE_DELAY = 0.6  # seconds of quiet typing before an autosave; a click (a choice) is saved at once


@dataclass
class Binding:
    """One answer widget tied to one graded item."""

    item: str
    widget: object
    show: Callable[..., None]  # (text, ok[, saved]): `saved` is the value the store now holds
    delay: float = SAVE_DELAY  # 0: save each change at once
    pending: threading.Timer | None = None
    loading: bool = False
    unsaved: bool = False  # its last save failed: submitting saves it again first
    saving: threading.Lock = field(default_factory=threading.Lock, repr=False)  # one save of it at a time


@dataclass
class Session:
    store_path: str | None  # the answer store: a SQLite file's path or a PostgreSQL URL
    learner: str | None = None
    instance: str | None = None  # the site's private folder, where feedback is returned
    bindings: dict[str, Binding] = field(default_factory=dict)
    ready: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _opened: object = None

    # -- identity ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Learn who the learner is now, or, in a preheated kernel, once a request claims it: answers
        saved while the kernel waited in the pool must not be shown stale."""
        if os.environ.get("VOILA_PREHEAT") == "True":
            threading.Thread(target=self._wait_for_request, daemon=True).start()
        else:
            self._identify()

    def _wait_for_request(self) -> None:
        os.environ.update(upstream.claimed_request())
        # Restoring answers builds and changes widgets (a saved role builds its deck): on this thread, that
        # raced the page asking for every widget's state, and a page once came up with a part missing.
        upstream.on_kernel_thread(self._identify)

    def _identify(self) -> None:
        with self.lock:
            self.learner = os.environ.get(LEARNER_ENV) or None
            self.ready.set()
            waiting = list(self.bindings.values())
        for binding in waiting:
            self._restore(binding)

    # -- answers ----------------------------------------------------------------------------------
    def _store(self):
        # Imported on first use: a kernel that saves nothing loads no store, and psycopg only for PostgreSQL.
        from course.store.answers import AnswerStore

        if self._opened is None:
            self._opened = AnswerStore(self.store_path)
        return self._opened

    def saved(self, module: str) -> dict[str, str]:
        """The learner's saved answers to `module` (item id -> text); empty when nobody is signed in."""
        if not (self.store_path and self.learner):
            return {}
        return self._store().load(self.learner, module)

    def bind(self, item: str, widget, show: Callable[..., None], typed: bool = True) -> None:
        """Restore `widget`'s saved value for `item` and autosave it as the learner works: typed text once
        the typing pauses, a choice at once (before anything else the change sets off, such as a chart)."""
        binding = Binding(item, widget, show, SAVE_DELAY if typed else 0)
        widget.observe(lambda change: self._changed(binding), names="value")
        if self.store_path and not self.ready.is_set():
            show("Connecting to your saved answers…", True)
        with self.lock:  # either _identify restores it, or it is ready now and restored here
            self.bindings[item] = binding
            ready = self.ready.is_set()
        if ready:
            self._restore(binding)

    def _restore(self, binding: Binding) -> None:
        if not (self.store_path and self.learner):
            if self.store_path:
                binding.show("Not signed in: answers on this page are not saved.", False)
            return
        try:
            saved = self._store().load(self.learner, module_of(binding.item)).get(binding.item)
        except Exception as exc:  # the page must still work if the store is unreachable
            binding.show(f"Could not load your saved answer ({type(exc).__name__}); "
                         "what you type now is kept on this page.", False)
            return
        if saved is None:
            binding.show("Answers save as you go.", True)
            return
        # A lone surrogate (kept exactly in the store) cannot travel in a Jupyter message: show it as U+FFFD.
        shown = saved.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
        if shown != binding.widget.value:
            binding.loading = True
            try:
                binding.widget.value = shown
            except (TraitError, ValueError):  # a choice this question no longer offers: kept, not shown
                binding.show("Your saved answer is not one of the choices here now, so it is not shown; it "
                             "stays saved until you answer again.", False)
                return
            finally:
                binding.loading = False
        binding.show("Saved answer restored." if shown == saved
                     else "Saved answer restored; a broken character in it is shown as \ufffd.", True, shown)

    def _changed(self, binding: Binding) -> None:
        if binding.loading or not (self.store_path and self.learner):
            return
        if not binding.delay:
            binding.show("Saving…", True)
            self.save(binding)
            return
        with self.lock:
            if binding.pending:
                binding.pending.cancel()
            binding.pending = threading.Timer(SAVE_DELAY, self.save, args=(binding,))
            binding.pending.daemon = True
            binding.pending.start()
        binding.show("Saving…", True)

    def save(self, binding: Binding) -> bool:
        """Write the widget's current value to the store; say on the page whether it worked. One save of a box
        at a time, from reading its value to the store's answer: an older value read by a slower save never
        lands after a newer one (Submit's own save, say)."""
        with binding.saving:
            return self._save(binding)

    def _save(self, binding: Binding) -> bool:
        value = binding.widget.value
        if value is None:
            return True
        from course.store.answers import OverLimit

        try:
            saved = self._store().save(self.learner, module_of(binding.item), binding.item, str(value))
        except OverLimit as exc:  # trying again will not help
            binding.unsaved = True
            binding.show(f"Not saved: {exc}", False)
            return False
        except Exception as exc:
            binding.unsaved = True
            binding.show(f"Not saved: {exc}. Your text is still here; keep this page open and try again.",
                         False)
            return False
        binding.unsaved = False
        binding.show(f"Saved at {saved.saved_at:%H:%M:%S} UTC.", True, str(value))
        return True

    def flush(self) -> bool:
        """Save every pending change now, and try again every save that failed (before submitting)."""
        ok = True
        for binding in list(self.bindings.values()):
            with self.lock:
                pending, binding.pending = binding.pending, None
            if pending:
                pending.cancel()
            if pending or binding.unsaved:
                ok = self.save(binding) and ok
        return ok

    def submit(self, module: str):
        """Hand in `module`: the release notebook with this learner's saved answers, into nbgrader's
        exchange inbound, exactly as `nbgrader submit` would leave it. Returns the notebook's path."""
        from course.lesson import submissions

        if not (self.store_path and self.learner):
            raise PermissionError("Sign in to submit.")
        if not self.flush():
            raise OSError("Some answers could not be saved, so nothing was submitted.")
        store = self._store()
        store.check_can_submit(self.learner, module)
        release_nb = submissions.read(folder("modules") / f"{module}.ipynb")
        cells = submissions.answer_cells(release_nb)
        answers = {k: v for k, v in store.load(self.learner, module).items() if k in cells}
        problems = submissions.problems(release_nb, answers)
        if problems:
            raise ValueError(" ".join(problems))
        path = submissions.to_exchange(os.environ.get(EXCHANGE_ENV) or str(folder("instance") / "exchange"),
                                       COURSE_ID, self.learner, module, submissions.fill(release_nb, answers))
        try:
            store.record_submission(self.learner, module, str(path), submissions.now())
        except BaseException:  # (over the limit: another tab handed in meanwhile; or the store failed)
            shutil.rmtree(path.parent, ignore_errors=True)  # a hand-in not recorded is not left to collect
            raise
        return path


_current: Session | None = None


def current() -> Session:
    """The kernel's one session, started on first use."""
    global _current
    if _current is None:
        _current = Session(os.environ.get(STORE_ENV) or None, instance=instance_folder(os.environ))
        _current.start()
        if in_voila():  # a web page, where the learner's browser is not to be trusted
            comm_targets.refuse_page_made_widgets()
    return _current

