# nbgrader in an instructor's own server on the course's JupyterHub: the formgrader works on the instructors'
# course directory (ALLIES_GRADING_DIR, made by `python -m course instructor init`), with its settings.
import os

c = get_config()  # noqa: F821
c.CourseDirectory.root = os.environ["ALLIES_GRADING_DIR"]
load_subconfig(os.path.join(os.environ["ALLIES_GRADING_DIR"], "nbgrader_config.py"))  # noqa: F821
