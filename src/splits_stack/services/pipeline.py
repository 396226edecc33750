"""Application stages and the rules for moving a card along the pipeline board."""

from __future__ import annotations

STAGES: list[str] = ["applied", "screening", "interview", "offer", "hired"]
ALL_STAGES: list[str] = [*STAGES, "rejected"]
STAGE_LABELS: dict[str, str] = {
    "applied": "Applied",
    "screening": "Screening",
    "interview": "Interview",
    "offer": "Offer",
    "hired": "Hired",
    "rejected": "Rejected",
}
JOB_STATUSES: list[str] = ["draft", "pending_approval", "open", "filled", "closed"]


class InvalidMove(ValueError):
    """A stage move the pipeline does not allow (unknown stage, or out of a final stage)."""


def check_move(from_stage: str, to_stage: str) -> None:
    if to_stage not in ALL_STAGES:
        raise InvalidMove(f"unknown stage {to_stage!r}")
    if from_stage == to_stage:
        raise InvalidMove(f"the application is already in {to_stage}")
    if from_stage == "hired":
        raise InvalidMove("a hired candidate cannot be moved; the placement is booked")
