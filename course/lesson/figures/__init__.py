"""The course's interactive figures, one file per module topic; each turns `data/` tables and a learner's
choices into charts through the shared components in `course.lesson.widgets`.

Every module imports this package, so it is where a module page's answer widgets are given the kernel's
session to keep their answers with."""
from course.lesson import session, widgets

widgets.answer_with(session.current)
