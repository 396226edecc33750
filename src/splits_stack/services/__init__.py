"""The stack's services (identity, ats, network, billing, notification, document, ai) as modules.

Each takes a SQLAlchemy `Connection` (or `Engine`) and returns plain dicts; the gateway's routes stay
thin and never build SQL themselves.
"""
