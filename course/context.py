"""Which path the learner is on: the Voilà app (widgets only) or a notebook they can edit."""
import os

# Voilà sets these in every kernel it starts (voila.utils.ENV_VARIABLE).
_VOILA_KEYS = ("VOILA_KERNEL_ID", "VOILA_PREHEAT", "VOILA_APP_PORT", "VOILA_BASE_URL")


def in_voila() -> bool:
    """True in a kernel started by Voilà, where learners cannot edit cells."""
    return any(key in os.environ for key in _VOILA_KEYS)
