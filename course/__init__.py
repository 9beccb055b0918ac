"""Allies in Tech: the course package the notebooks import."""
