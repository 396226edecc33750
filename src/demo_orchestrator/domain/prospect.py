"""The prospect's e-mail domain, as the reference stack's prospect transform makes it.

A persona marked `prospect: true` in the blueprint works at the prospect's company; once a demo is
made (or claimed from the warm pool) for a prospect, the stack moves that company's people to a
domain made from the prospect's name. The orchestrator shows the same address, so what the rep
reads on the admin page is what the demo shows. Kept here rather than imported: the orchestrator
and the stack stay independent packages (an import contract); a test holds both to one answer.
"""

from __future__ import annotations

import re
import unicodedata

_LEGAL_SUFFIXES = frozenset(  # dropped from the end of a name: "Acme Robotics, Inc."
    "inc incorporated llc llp lp ltd limited corp corporation co company plc gmbh ag sa sas "  # noqa: SIM905
    "sarl srl spa bv nv oy ab as aps kk pty pte".split()
)
_MAX_LABEL = 40


def prospect_domain(name: str) -> str:
    """ "Acme Robotics, Inc." -> "acmerobotics.example"; "prospect.example" when nothing is left."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    words = re.findall(r"[a-z0-9]+", folded.replace(".", "").replace("'", ""))
    while len(words) > 1 and words[-1] in _LEGAL_SUFFIXES:
        words.pop()
    label = "".join(words)[:_MAX_LABEL] or "prospect"
    return f"{label}.example"


def prospect_email(email: str, company: str) -> str:
    """The persona's address at the prospect's domain (its local part kept)."""
    return f"{email.rsplit('@', 1)[0]}@{prospect_domain(company)}"
