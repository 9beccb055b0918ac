# nbgrader in a learner's single-user server (the Assignments tab, `nbgrader submit`, `fetch_feedback`):
# the course and the shared exchange the spawner names (course.web.hub.learner_environment), and the hub's
# user name as the student id: nbgrader would take the system user's, one for all on Kubernetes (jovyan).
import os

from course import contract

c = get_config()  # noqa: F821
c.CourseDirectory.course_id = contract.COURSE_ID
c.CourseDirectory.student_id = os.environ[contract.LEARNER_ENV]
c.Exchange.root = os.environ[contract.EXCHANGE_ENV]
