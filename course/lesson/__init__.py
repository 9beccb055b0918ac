"""What runs in a learner's kernel: the module pages' widgets, charts, figures, models and saving.

Nothing here imports nbgrader, Voilà, jupyter_server or the store's server side (`tests/test_layers.py`)."""
