"""Deterministic scenario seeding: our own data providers on top of a pinned Faker."""
