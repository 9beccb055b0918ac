"""The course's interactive figures, one file per module topic; each turns `data/` tables and a learner's
choices into charts through the shared components in `course.lesson.widgets`.

Every module imports this package, so it is where a module page's answer widgets are given the kernel's
session to keep their answers with, and where what ipykernel logs is kept off the page
(`course.lesson.kernel_log`). A forked kernel inherits both from the process it was forked from, which
imported this package."""
from course.lesson import kernel_log, session, widgets

widgets.answer_with(session.current)
kernel_log.to_server_log()
