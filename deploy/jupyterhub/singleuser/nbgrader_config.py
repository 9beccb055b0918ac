# nbgrader in a learner's single-user server (the Assignments tab, `nbgrader submit`, `fetch_feedback`):
# the course and the shared exchange the spawner names (course.web.hub.learner_environment).
import os

from course import contract

c = get_config()  # noqa: F821
c.CourseDirectory.course_id = contract.COURSE_ID
c.Exchange.root = os.environ[contract.EXCHANGE_ENV]
