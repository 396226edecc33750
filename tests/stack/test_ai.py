"""The ai service's ranking, on hand-made profiles (pure, no database)."""

from __future__ import annotations

from splits_stack.services.ai import JobSpec, Profile, rank

JOB = JobSpec(1, "Senior Data Engineer", ["Python", "Spark", "Airflow", "dbt"], ["Snowflake"], 5)


def _profile(cid: int, skills: list[str], years: int = 6, resume: str = "") -> Profile:
    return Profile(
        cid, f"C{cid}", "", years, skills, resume or "Data engineer. " + ", ".join(skills)
    )


def test_holding_the_required_skills_ranks_above_lacking_them() -> None:
    strong = _profile(1, ["Python", "Spark", "Airflow", "dbt"])
    weak = _profile(
        2, ["Excel", "Tableau", "Budgeting"], resume="Data data data engineer engineer senior " * 20
    )
    ranked = rank(JOB, [weak, strong])
    assert [r["candidate_id"] for r in ranked] == [1, 2]
    assert ranked[0]["reasons"]["matched_required"] == ["Python", "Spark", "Airflow", "dbt"]
    assert ranked[1]["reasons"]["missing_required"] == ["Python", "Spark", "Airflow", "dbt"]
    assert ranked[0]["score"] > ranked[1]["score"] + 40


def test_more_required_skills_and_enough_experience_score_higher() -> None:
    three = _profile(1, ["Python", "Spark", "Airflow"])
    two = _profile(2, ["Python", "Spark"])
    junior = _profile(3, ["Python", "Spark", "Airflow"], years=1)
    ranked = {r["candidate_id"]: r for r in rank(JOB, [three, two, junior])}
    assert ranked[1]["score"] > ranked[2]["score"]
    assert ranked[1]["score"] > ranked[3]["score"]
    assert "4 yrs short" in ranked[3]["reasons"]["experience"]


def test_skills_mentioned_only_in_the_resume_count() -> None:
    listed = _profile(
        1,
        [],
        resume="Built pipelines with Python and Spark, scheduled in Airflow, modelled in dbt.",
    )
    ranked = rank(JOB, [listed])
    assert ranked[0]["reasons"]["matched_required"] == ["Python", "Spark", "Airflow", "dbt"]
