"""Splits Network reference stack: the product the orchestrator demos.

All eight services (gateway, identity, ats, network, billing, notification, document, ai) are modules
of this one package so that the local runtime can run a whole demo as one small process. Nothing is
imported here on purpose: `python -m splits_stack serve` must start in well under a second.
"""
