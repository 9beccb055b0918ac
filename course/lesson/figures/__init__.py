"""The course's interactive figures, one file per module topic; each turns `data/` tables and a learner's
choices into charts through the shared components in `course.lesson.widgets`."""
