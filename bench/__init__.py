"""The course's performance bench: `python bench/run.py [--quick]` writes bench/RESULTS.md."""
