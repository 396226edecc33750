"""Our own data providers: job families, skills, titles, industries and schools.

Faker gives names, companies and places; it knows nothing about recruiting. These lists make the
generated jobs, resumes and match scores coherent: a "Data & AI" job asks for skills that "Data & AI"
candidates actually list, so the ai service has real signal to rank on.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    name: str
    titles: tuple[str, ...]
    skills: tuple[str, ...]
    verbs: tuple[str, ...]
    salary: tuple[int, int]


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            "Engineering",
            (
                "Software Engineer",
                "Backend Engineer",
                "Frontend Engineer",
                "Platform Engineer",
                "Site Reliability Engineer",
                "Full-Stack Engineer",
                "Mobile Engineer",
            ),
            (
                "Python",
                "Go",
                "TypeScript",
                "React",
                "PostgreSQL",
                "Kubernetes",
                "AWS",
                "Docker",
                "GraphQL",
                "Terraform",
                "Java",
                "Rust",
                "Node.js",
                "CI/CD",
                "Microservices",
                "Redis",
                "Kafka",
                "Swift",
                "Kotlin",
                "Django",
            ),
            ("Built", "Shipped", "Scaled", "Re-architected", "Led the migration of", "Automated"),
            (110_000, 210_000),
        ),
        Family(
            "Data & AI",
            (
                "Data Scientist",
                "Machine Learning Engineer",
                "Data Engineer",
                "Analytics Engineer",
                "ML Platform Engineer",
                "Data Analyst",
            ),
            (
                "Python",
                "SQL",
                "PyTorch",
                "TensorFlow",
                "Spark",
                "Airflow",
                "dbt",
                "Snowflake",
                "scikit-learn",
                "LLMs",
                "NLP",
                "Statistics",
                "A/B Testing",
                "Databricks",
                "MLOps",
                "Computer Vision",
            ),
            (
                "Trained",
                "Deployed",
                "Modelled",
                "Built pipelines for",
                "Productionised",
                "Analysed",
            ),
            (115_000, 220_000),
        ),
        Family(
            "Product & Design",
            (
                "Product Manager",
                "Product Designer",
                "UX Researcher",
                "Group Product Manager",
                "Design Manager",
            ),
            (
                "Roadmapping",
                "Figma",
                "User Research",
                "Prototyping",
                "Design Systems",
                "Analytics",
                "A/B Testing",
                "Discovery",
                "Jira",
                "Accessibility",
                "Stakeholder Management",
                "Interaction Design",
            ),
            ("Launched", "Defined", "Redesigned", "Ran discovery for", "Owned", "Prioritised"),
            (105_000, 195_000),
        ),
        Family(
            "Sales",
            (
                "Account Executive",
                "Enterprise Account Executive",
                "Sales Development Rep",
                "Sales Manager",
                "Solutions Engineer",
            ),
            (
                "Salesforce",
                "MEDDIC",
                "Pipeline Generation",
                "Negotiation",
                "SaaS Sales",
                "Enterprise Sales",
                "Forecasting",
                "Cold Outreach",
                "HubSpot",
                "Closing",
                "Account Planning",
                "Demo Delivery",
            ),
            ("Closed", "Grew", "Opened", "Exceeded quota on", "Negotiated", "Built pipeline for"),
            (80_000, 180_000),
        ),
        Family(
            "Marketing",
            (
                "Growth Marketer",
                "Product Marketing Manager",
                "Content Marketing Manager",
                "Demand Generation Manager",
                "Growth Marketing Manager",
            ),
            (
                "SEO",
                "Paid Acquisition",
                "HubSpot",
                "Content Strategy",
                "Lifecycle Marketing",
                "Google Analytics",
                "Positioning",
                "Copywriting",
                "Marketing Automation",
                "Brand",
                "Growth Experiments",
                "Attribution",
            ),
            ("Launched", "Grew", "Ran", "Doubled", "Repositioned", "Built"),
            (85_000, 175_000),
        ),
        Family(
            "Customer Success",
            (
                "Customer Success Manager",
                "Implementation Manager",
                "Support Manager",
                "Account Manager",
                "Onboarding Specialist",
            ),
            (
                "Onboarding",
                "Renewals",
                "Zendesk",
                "Gainsight",
                "Churn Reduction",
                "Upselling",
                "QBRs",
                "Customer Training",
                "Escalation Management",
                "SaaS",
                "Salesforce",
            ),
            ("Onboarded", "Renewed", "Reduced churn for", "Expanded", "Trained", "Supported"),
            (70_000, 140_000),
        ),
        Family(
            "Finance",
            ("Financial Analyst", "FP&A Manager", "Controller", "Accountant", "Finance Manager"),
            (
                "Excel",
                "Financial Modelling",
                "FP&A",
                "NetSuite",
                "GAAP",
                "Budgeting",
                "Forecasting",
                "SQL",
                "Revenue Recognition",
                "Audit",
                "Tableau",
            ),
            (
                "Closed the books for",
                "Modelled",
                "Forecast",
                "Audited",
                "Streamlined",
                "Reported on",
            ),
            (85_000, 170_000),
        ),
        Family(
            "People & Operations",
            (
                "Talent Partner",
                "HR Business Partner",
                "Operations Manager",
                "People Operations Manager",
                "Recruiting Coordinator",
            ),
            (
                "Workday",
                "Talent Acquisition",
                "Employee Relations",
                "Compensation",
                "Onboarding",
                "Greenhouse",
                "HR Policy",
                "Process Design",
                "Sourcing",
                "Employer Branding",
            ),
            ("Hired", "Designed", "Rolled out", "Ran", "Scaled", "Standardised"),
            (70_000, 150_000),
        ),
    )
}

LEVELS: tuple[tuple[str, int], ...] = (
    ("Junior", 0),
    ("Mid", 2),
    ("Senior", 5),
    ("Staff", 8),
    ("Lead", 7),
    ("Principal", 10),
)

INDUSTRIES: tuple[str, ...] = (
    "Fintech",
    "Healthtech",
    "E-commerce",
    "Logistics",
    "Cybersecurity",
    "Climate tech",
    "EdTech",
    "Media",
    "B2B SaaS",
    "Insurance",
    "Biotech",
    "Real estate",
)

SCHOOLS: tuple[str, ...] = (
    "University of Michigan",
    "Georgia Tech",
    "UC Berkeley",
    "University of Texas at Austin",
    "University of Washington",
    "Carnegie Mellon University",
    "Boston University",
    "University of Toronto",
    "Purdue University",
    "Arizona State University",
    "NYU",
    "University of Illinois Urbana-Champaign",
    "Northeastern University",
    "UCLA",
)

DEGREES: dict[str, tuple[str, ...]] = {
    "Engineering": ("B.S. Computer Science", "B.S. Software Engineering", "M.S. Computer Science"),
    "Data & AI": (
        "M.S. Statistics",
        "B.S. Mathematics",
        "Ph.D. Computer Science",
        "M.S. Data Science",
    ),
    "Product & Design": ("B.A. Human-Computer Interaction", "B.F.A. Design", "MBA"),
    "Sales": ("B.A. Communications", "B.S. Business Administration", "B.A. Economics"),
    "Marketing": ("B.A. Marketing", "B.A. Journalism", "MBA"),
    "Customer Success": ("B.A. Psychology", "B.S. Business Administration", "B.A. Communications"),
    "Finance": ("B.S. Accounting", "B.S. Finance", "MBA, CPA"),
    "People & Operations": ("B.A. Psychology", "B.S. Human Resources", "B.A. Sociology"),
}

LOCATIONS: tuple[str, ...] = (
    "New York, NY",
    "San Francisco, CA",
    "Austin, TX",
    "Seattle, WA",
    "Boston, MA",
    "Chicago, IL",
    "Denver, CO",
    "Atlanta, GA",
    "Toronto, ON",
    "Remote (US)",
    "Los Angeles, CA",
    "Miami, FL",
)

SOURCES: tuple[str, ...] = ("Recruiter", "Referral", "Job board", "LinkedIn", "Careers site")

PLANS: dict[str, tuple[int, int]] = {  # plan -> (monthly USD per seat, default seats)
    "Starter": (49, 5),
    "Growth": (89, 25),
    "Enterprise": (129, 120),
}

_STEMS: tuple[str, ...] = (
    "Bluefin",
    "Brightpath",
    "Cobalt",
    "Evergreen",
    "Harbor",
    "Ironwood",
    "Keystone",
    "Lighthouse",
    "Meridian",
    "Orbit",
    "Pinecone",
    "Quartz",
    "Redwood",
    "Summit",
    "Tidal",
    "Vertex",
    "Willow",
    "Aster",
    "Beacon",
    "Cascade",
    "Driftwood",
    "Ember",
    "Fathom",
    "Granite",
    "Halcyon",
    "Juniper",
)
_SUFFIXES: dict[str, tuple[str, ...]] = {
    "Fintech": ("Pay", "Capital", "Ledger"),
    "Healthtech": ("Health", "Care", "Clinics"),
    "E-commerce": ("Commerce", "Goods", "Market"),
    "Logistics": ("Freight", "Logistics", "Supply"),
    "Cybersecurity": ("Security", "Shield", "Defense"),
    "Climate tech": ("Energy", "Carbon", "Grid"),
    "EdTech": ("Learning", "Academy", "Education"),
    "Media": ("Media", "Studios", "Audio"),
    "B2B SaaS": ("Software", "Cloud", "Systems"),
    "Insurance": ("Insurance", "Mutual", "Assurance"),
    "Biotech": ("Bio", "Therapeutics", "Genomics"),
    "Real estate": ("Homes", "Properties", "Spaces"),
}


def company_name(rng: random.Random, industry: str, taken: set[str]) -> str:
    """A plausible, unique company name for an industry ("Cobalt Freight", "Juniper Health")."""
    while True:
        name = f"{rng.choice(_STEMS)} {rng.choice(_SUFFIXES.get(industry, ('Labs', 'Group')))}"
        if name not in taken:
            taken.add(name)
            return name
