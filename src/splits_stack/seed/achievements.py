"""Resume bullet points that read like a person wrote them: one list of achievements per job family.

Each template is a whole claim whose metric fits its verb and object ("cut p95 API latency by 40%",
never "launched the onboarding flow using Figma by 30%"): a percentage always measures a named
quantity (latency, conversion, churn, cost...). A template that names a skill says which skills fit
its slot (a migration goes *to* Kubernetes or PostgreSQL, never to "A/B Testing"); it is used only
when the person lists one of them. Placeholders: `{skill}`, `{pct}` a percentage, `{n}` a small
count, `{k}` thousands of dollars, `{m}` millions, `{a}`/`{b}` a before/after pair of durations.
"""

from __future__ import annotations

import random

Claim = tuple[str, tuple[str, ...]]
"""A template and the skills that fit its `{skill}` slot (empty: the template names none)."""

_LANGS = ("Python", "Go", "Java", "Rust", "TypeScript", "Node.js", "Kotlin", "Swift", "Django")
_INFRA = ("Kubernetes", "AWS", "Docker", "Terraform")
_DATA_TOOLS = ("Spark", "Airflow", "dbt", "Snowflake", "Databricks", "Python", "SQL")
_ML = ("PyTorch", "TensorFlow", "scikit-learn", "Python")

ACHIEVEMENTS: dict[str, tuple[Claim, ...]] = {
    "Engineering": (
        ("Cut p95 API latency by {pct}% by rewriting the slowest endpoints in {skill}.", _LANGS),
        (
            "Built the {skill} services behind the customer dashboard, used by {n}00k people a month.",
            _LANGS,
        ),
        (
            "Led the migration of {n} services to {skill} with no customer-facing downtime.",
            (*_INFRA, "PostgreSQL", "Kafka"),
        ),
        (
            "Reduced cloud spend by {pct}% (about ${k}k a year) by right-sizing {skill} workloads.",
            ("Kubernetes", "AWS"),
        ),
        (
            "Automated release checks with {skill}, taking deploys from {a} hours to {b} minutes.",
            ("CI/CD", "Terraform", "Docker"),
        ),
        ("Mentored {n} engineers and ran the team's {skill} code reviews.", _LANGS),
        ("Lowered the on-call incident rate by {pct}% with better alerting and runbooks.", ()),
        (
            "Shipped an offline mode for the {skill} app that lifted weekly active users by {pct}%.",
            ("Swift", "Kotlin", "React"),
        ),
    ),
    "Data & AI": (
        (
            "Trained a churn model in {skill} that raised prediction accuracy by {pct}% over rules.",
            _ML,
        ),
        (
            "Built {skill} pipelines processing {n}M events a day for the analytics team.",
            _DATA_TOOLS,
        ),
        (
            "Cut dashboard refresh time by {pct}% by moving reporting models to {skill}.",
            ("dbt", "Snowflake", "Databricks", "Spark"),
        ),
        (
            "Deployed a recommendation model ({skill}) that lifted click-through rate by {pct}%.",
            _ML,
        ),
        ("Ran {n} A/B tests a quarter with product teams and wrote up every result.", ()),
        (
            "Reduced data pipeline failures by {pct}% with tests and alerting in {skill}.",
            ("Airflow", "dbt", "Databricks"),
        ),
        (
            "Put {n} models into production behind one {skill} serving layer.",
            ("MLOps", "Databricks", "PyTorch"),
        ),
    ),
    "Product & Design": (
        (
            "Redesigned the onboarding flow in {skill}, raising activation rate by {pct}%.",
            ("Figma",),
        ),
        ("Ran {n} customer interviews a quarter and turned them into the roadmap.", ()),
        ("Launched a self-serve billing page that reduced support tickets by {pct}%.", ()),
        ("Built a shared design system in {skill} used by {n} product teams.", ("Figma",)),
        ("Owned mobile checkout and increased its conversion rate by {pct}% in two quarters.", ()),
        (
            "Shortened time from idea to first release by {pct}% with lighter planning in {skill}.",
            ("Jira",),
        ),
        ("Made the core flows meet WCAG AA, closing {n}0 accessibility issues.", ()),
    ),
    "Sales": (
        ("Closed ${k}k in new annual revenue in a year, {pct}% above quota.", ()),
        ("Grew qualified pipeline by {pct}% in a new territory through cold outreach.", ()),
        ("Negotiated {n} multi-year enterprise renewals worth ${m}M in total.", ()),
        (
            "Shortened the average sales cycle by {pct}% by qualifying every deal with {skill}.",
            ("MEDDIC",),
        ),
        (
            "Built the outbound playbook in {skill} that a team of {n} reps still uses.",
            ("Salesforce", "HubSpot"),
        ),
        ("Raised win rate against the main competitor by {pct}% with sharper demos.", ()),
        (
            "Improved forecast accuracy by {pct}% by cleaning up stages in {skill}.",
            ("Salesforce", "HubSpot"),
        ),
    ),
    "Marketing": (
        (
            "Grew organic sign-ups by {pct}% in a year through {skill}.",
            ("SEO", "Content Strategy", "Copywriting"),
        ),
        ("Cut cost per lead by {pct}% by reworking paid campaigns.", ()),
        ("Launched {n} product campaigns that sourced ${m}M in pipeline.", ()),
        (
            "Rebuilt lifecycle e-mails in {skill}, lifting trial-to-paid conversion by {pct}%.",
            ("HubSpot", "Marketing Automation"),
        ),
        ("Ran a weekly growth experiment cadence across {n} channels.", ()),
        ("Increased website demo requests by {pct}% after new positioning and copy.", ()),
        (
            "Set up multi-touch attribution in {skill} for {n} paid channels.",
            ("Google Analytics", "HubSpot"),
        ),
    ),
    "Customer Success": (
        ("Reduced churn in a book of {n}0 accounts by {pct}% with quarterly business reviews.", ()),
        ("Onboarded {n} enterprise customers and cut their time-to-value by {pct}%.", ()),
        ("Expanded key accounts by ${k}k in annual revenue through upsells.", ()),
        ("Set up {skill} playbooks that improved CSAT scores by {pct}%.", ("Gainsight", "Zendesk")),
        ("Trained {n}0 customer admins a quarter on the product.", ()),
        (
            "Lowered first-response time by {pct}% by reorganising the queue in {skill}.",
            ("Zendesk",),
        ),
    ),
    "Finance": (
        ("Shortened the monthly close from {a} to {b} days with {skill}.", ("NetSuite", "Excel")),
        (
            "Built the {skill} model behind a ${m}M budget across {n} departments.",
            ("Excel", "Financial Modelling"),
        ),
        ("Reduced vendor spend by {pct}% through a line-by-line budget review.", ()),
        ("Led the annual audit with no material findings.", ()),
        (
            "Improved forecast accuracy by {pct}% with a driver-based model in {skill}.",
            ("Excel", "Tableau"),
        ),
        ("Cut days sales outstanding by {pct}% with weekly collections reporting.", ()),
    ),
    "People & Operations": (
        (
            "Hired {n}0 people in a year across engineering and sales, run in {skill}.",
            ("Greenhouse", "Workday"),
        ),
        ("Cut time-to-hire by {pct}% by rebuilding the interview process.", ()),
        ("Rolled out {skill} to {n}00 employees in {a} weeks.", ("Workday", "Greenhouse")),
        ("Raised offer acceptance rate by {pct}% with clearer compensation bands.", ()),
        ("Reduced regretted attrition by {pct}% through a new onboarding programme.", ()),
        ("Wrote the handbook and HR policies for {n} offices.", ()),
    ),
}


def achievements(rng: random.Random, family: str, skills: list[str], count: int) -> list[str]:
    """`count` different claims of a person in `family` listing `skills`; a claim naming a skill
    names one of theirs that fits it."""
    usable = [(text, [s for s in fit if s in skills]) for text, fit in ACHIEVEMENTS[family]]
    usable = [(text, fit) for text, fit in usable if fit or "{skill}" not in text]
    return [_fill(rng, text, fit) for text, fit in rng.sample(usable, min(count, len(usable)))]


def _fill(rng: random.Random, template: str, skills: list[str]) -> str:
    a, b = rng.randint(3, 8), rng.choice((15, 20, 30))  # hours before, minutes after; or weeks
    if "{a} to {b} days" in template:  # a monthly close: from about two weeks to under one
        a, b = a + 5, rng.randint(3, 6)
    return template.format(
        skill=rng.choice(skills) if skills else "",
        pct=rng.choice((12, 18, 22, 25, 30, 35, 40)),
        n=rng.randint(2, 9),
        k=rng.choice((180, 240, 320, 450, 600, 850)),
        m=rng.choice((1.2, 2.5, 3.8, 4.0, 6.5)),
        a=a,
        b=b,
    )
