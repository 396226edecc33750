"""The password policy for web users: long enough, not a common password, not the user's name.

Refusing what an attacker tries first matters more than composition rules, so the policy is NIST
SP 800-63B's: a minimum length (12), a check against a list of passwords known from breaches, and
no password built from the user name. The list and the guess estimate come from `zxcvbn` (the
Python port of Dropbox's estimator, which ships its frequency lists of common passwords, names and
words), so no list of our own needs maintaining. Applied wherever a password is set: the API, the
CLI (a client of the API) and the `DEMO_ADMIN_PASSWORD` bootstrap.
"""

from __future__ import annotations

from functools import lru_cache

from zxcvbn import zxcvbn  # type: ignore[import-untyped]
from zxcvbn.frequency_lists import FREQUENCY_LISTS  # type: ignore[import-untyped]

MIN_LENGTH = 12
MAX_LENGTH = 200
# zxcvbn's score 3: "safely unguessable: moderate protection from offline slow-hash attacks"
# (10^8 to 10^10 guesses); lower scores are patterns a cracker finds in minutes.
MIN_SCORE = 3
# Words any password of this product would be built from, scored as if they were common.
PRODUCT_WORDS = ("demo", "orchestrator", "splits", "network", "democtl")


@lru_cache(maxsize=1)
def _common() -> frozenset[str]:
    return frozenset(FREQUENCY_LISTS["passwords"])


def password_problem(password: str, *, user: str) -> str | None:
    """Why the password is refused, as a sentence a person can act on; None when it is fine."""
    if len(password) < MIN_LENGTH:
        return f"the password must have at least {MIN_LENGTH} characters (a passphrase works well)"
    if len(password) > MAX_LENGTH:
        return f"the password must have at most {MAX_LENGTH} characters"
    lowered = password.lower()
    if lowered in _common():
        return "the password is a common password found in breaches; choose another"
    if len(user) >= 3 and user.lower() in lowered:
        return "the password must not contain the user name"
    score = zxcvbn(password[:100], user_inputs=[user, *PRODUCT_WORDS])["score"]
    if score < MIN_SCORE:
        return (
            "the password is too easy to guess (common words, names, dates or keyboard patterns); "
            "choose a longer or less predictable one"
        )
    return None
