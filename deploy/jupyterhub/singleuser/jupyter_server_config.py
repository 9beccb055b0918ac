# A learner's single-user server on the course's JupyterHub: the spawner puts this folder on
# JUPYTER_CONFIG_PATH (course.web.hub.learner_environment). The course's Voilà pages with their kernels
# bounded (one per page, a few at once), idle kernels culled, nbgrader's Assignments tab but never its formgrader.
from course.web import hub

c = get_config()  # noqa: F821
hub.configure(c)
