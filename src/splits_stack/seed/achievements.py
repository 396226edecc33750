"""Resume bullet points that read like a person wrote them: one list of achievements per job family.

Each template is a whole claim whose metric fits its verb and object ("cut p95 API latency by 40%",
never "launched the onboarding flow using Figma by 30%"): a percentage always measures a named
quantity (latency, conversion, churn, cost...). Placeholders: `{skill}` one of the person's skills,
`{pct}` a percentage, `{n}` a small count, `{k}` thousands of dollars, `{m}` millions, `{a}`/`{b}` a
before/after pair of durations.
"""

from __future__ import annotations

import random

ACHIEVEMENTS: dict[str, tuple[str, ...]] = {
    "Engineering": (
        "Cut p95 API latency by {pct}% by rewriting the slowest endpoints with {skill}.",
        "Built the {skill} services behind the customer dashboard, used by {n}00k people a month.",
        "Led the migration of {n} services to {skill} with no customer-facing downtime.",
        "Reduced cloud spend by {pct}% (about ${k}k a year) by right-sizing {skill} workloads.",
        "Automated release checks with {skill}, taking deploys from {a} hours to {b} minutes.",
        "Mentored {n} engineers and ran the team's {skill} code reviews.",
        "Lowered the on-call incident rate by {pct}% after adding {skill} health checks.",
    ),
    "Data & AI": (
        "Trained a churn model with {skill} that raised prediction accuracy by {pct}% over rules.",
        "Built {skill} pipelines processing {n}M events a day for the analytics team.",
        "Cut dashboard refresh time by {pct}% by moving reporting models to {skill}.",
        "Deployed a recommendation model ({skill}) that lifted click-through rate by {pct}%.",
        "Ran {n} A/B tests a quarter with product teams, analysed with {skill}.",
        "Reduced data pipeline failures by {pct}% with {skill} tests and alerting.",
    ),
    "Product & Design": (
        "Redesigned the onboarding flow in {skill}, raising activation rate by {pct}%.",
        "Ran {n} customer interviews a quarter and turned them into the roadmap with {skill}.",
        "Launched a self-serve billing page that reduced support tickets by {pct}%.",
        "Built a shared design system in {skill} used by {n} product teams.",
        "Owned mobile checkout and increased its conversion rate by {pct}% in two quarters.",
        "Shortened time from idea to first release by {pct}% with lighter {skill} rituals.",
    ),
    "Sales": (
        "Closed ${k}k in new annual revenue in a year, {pct}% above quota.",
        "Grew qualified pipeline by {pct}% in a new territory through {skill}.",
        "Negotiated {n} multi-year enterprise renewals worth ${m}M in total.",
        "Shortened the average sales cycle by {pct}% with a tighter {skill} process.",
        "Built the outbound playbook ({skill}) that a team of {n} reps still uses.",
        "Raised win rate against the main competitor by {pct}% with sharper demos.",
    ),
    "Marketing": (
        "Grew organic sign-ups by {pct}% in a year through {skill}.",
        "Cut cost per lead by {pct}% by reworking paid campaigns and {skill}.",
        "Launched {n} product campaigns that sourced ${m}M in pipeline.",
        "Rebuilt lifecycle e-mails with {skill}, lifting trial-to-paid conversion by {pct}%.",
        "Ran a weekly growth experiment cadence across {n} channels using {skill}.",
        "Increased website demo requests by {pct}% after new positioning and {skill}.",
    ),
    "Customer Success": (
        "Reduced churn in a book of {n}0 accounts by {pct}% with quarterly business reviews.",
        "Onboarded {n} enterprise customers and cut their time-to-value by {pct}%.",
        "Expanded key accounts by ${k}k in annual revenue through {skill}.",
        "Set up {skill} playbooks that improved CSAT scores by {pct}%.",
        "Trained {n}0 customer admins a quarter on the product and {skill}.",
        "Lowered first-response time by {pct}% by reorganising the queue in {skill}.",
    ),
    "Finance": (
        "Shortened the monthly close from {a} to {b} days with {skill}.",
        "Built the {skill} model behind a ${m}M budget across {n} departments.",
        "Reduced vendor spend by {pct}% through a line-by-line budget review.",
        "Led the annual audit with no material findings, keeping the evidence in {skill}.",
        "Improved forecast accuracy by {pct}% by moving the team to driver-based {skill}.",
        "Cut days sales outstanding by {pct}% with weekly collections reporting.",
    ),
    "People & Operations": (
        "Hired {n}0 people in a year across engineering and sales, using {skill}.",
        "Cut time-to-hire by {pct}% by rebuilding the interview process.",
        "Rolled out {skill} to {n}00 employees in {a} weeks.",
        "Raised offer acceptance rate by {pct}% with clearer compensation bands.",
        "Reduced regretted attrition by {pct}% through a new onboarding programme.",
        "Ran {skill} for {n} offices and kept every policy review on schedule.",
    ),
}


def achievement(rng: random.Random, family: str, skill: str) -> str:
    """One bullet point of a resume in `family`, naming `skill` where the claim uses one."""
    template = rng.choice(ACHIEVEMENTS[family])
    a, b = rng.randint(3, 8), rng.choice((15, 20, 30))  # hours before, minutes after; or weeks
    if "{a} to {b} days" in template:  # a monthly close: from about two weeks to under one
        a, b = a + 5, rng.randint(3, 6)
    return template.format(
        skill=skill,
        pct=rng.choice((12, 18, 22, 25, 30, 35, 40)),
        n=rng.randint(2, 9),
        k=rng.choice((180, 240, 320, 450, 600, 850)),
        m=rng.choice((1.2, 2.5, 3.8, 4.0, 6.5)),
        a=a,
        b=b,
    )
