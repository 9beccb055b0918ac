"""The instructor's side: releasing modules, and collecting, autograding and returning work with nbgrader."""
