"""The answer store: the roster, every answer with its history, and hand-ins (SQLite, or PostgreSQL)."""
