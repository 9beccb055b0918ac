"""Which path the learner is on: the Voilà app (widgets only) or a notebook they can edit, and which site."""
import os

from course.contract import FOR_THE_SESSION, KEPT_ENV, SELF_PACED, SITE_ENV

# Voilà sets these in every kernel it starts (voila.utils.ENV_VARIABLE).
_VOILA_KEYS = ("VOILA_KERNEL_ID", "VOILA_PREHEAT", "VOILA_APP_PORT", "VOILA_BASE_URL")


def in_voila() -> bool:
    """True in a kernel started by Voilà, where learners cannot edit cells."""
    return any(key in os.environ for key in _VOILA_KEYS)


def self_paced_site() -> bool:
    """True on a learner's own copy of the website (`make serve`): no facilitator, no sign-in, no hand-in."""
    return in_voila() and os.environ.get(SITE_ENV) == SELF_PACED


def kept_for_the_session() -> bool:
    """True on a self-paced site whose answers go when its server does (Binder), not kept on the learner's
    computer."""
    return self_paced_site() and os.environ.get(KEPT_ENV) == FOR_THE_SESSION
