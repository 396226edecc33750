"""The skills that make a role what it is, for the families whose titles differ most.

A family's skill list says what an engineer or a data person may know; a title's core says what
its job asks for first ("Mobile Engineer": Swift and Kotlin, not Terraform). Jobs draw their
required skills from their title's core and candidates built for a title list part of it, so a
site reliability engineer never fits, and is never put on, a mobile engineering job.
"""

from __future__ import annotations

from splits_stack.seed.catalog import LEVELS

ROLE_CORE: dict[str, tuple[str, ...]] = {
    "Software Engineer": ("Python", "Go", "Java", "PostgreSQL", "Microservices", "Docker", "CI/CD"),
    "Backend Engineer": ("Python", "Go", "Java", "PostgreSQL", "Redis", "Kafka", "Microservices"),
    "Frontend Engineer": ("TypeScript", "React", "GraphQL", "Node.js", "CI/CD"),
    "Platform Engineer": ("Kubernetes", "Terraform", "AWS", "Docker", "Go", "CI/CD"),
    "Site Reliability Engineer": ("Kubernetes", "Terraform", "AWS", "Go", "Docker", "Redis"),
    "Full-Stack Engineer": ("TypeScript", "React", "Node.js", "Python", "PostgreSQL", "GraphQL"),
    "Mobile Engineer": ("Swift", "Kotlin", "TypeScript", "React", "GraphQL", "CI/CD"),
    "Founding Engineer": (  # a generalist at an AI-heavy startup
        "Python",
        "TypeScript",
        "React",
        "PostgreSQL",
        "AWS",
        "Docker",
        "PyTorch",
        "MLOps",
    ),
    "Data Scientist": ("Python", "SQL", "Statistics", "scikit-learn", "A/B Testing", "PyTorch"),
    "Machine Learning Engineer": ("Python", "PyTorch", "TensorFlow", "MLOps", "LLMs", "NLP"),
    "Data Engineer": ("Python", "SQL", "Spark", "Airflow", "dbt", "Snowflake", "Databricks"),
    "Analytics Engineer": ("SQL", "dbt", "Snowflake", "Airflow", "Statistics"),
    "ML Platform Engineer": ("Python", "MLOps", "Databricks", "Spark", "PyTorch"),
    "Data Analyst": ("SQL", "Statistics", "A/B Testing", "Python", "Snowflake"),
}

_LEVEL_WORDS = {name for name, _ in LEVELS}


def bare_title(title: str) -> str:
    """A title without its level word ("Staff Backend Engineer" -> "Backend Engineer")."""
    first, _, rest = title.partition(" ")
    return rest if first in _LEVEL_WORDS and rest else title


def compatible(job_title: str, person_title: str) -> bool:
    """Whether someone with `person_title` is a credible applicant for `job_title`: roles with a
    core must share at least two of its skills (backend and platform yes, SRE and mobile no)."""
    job, person = ROLE_CORE.get(bare_title(job_title)), ROLE_CORE.get(bare_title(person_title))
    return job is None or person is None or len(set(job) & set(person)) >= 2
