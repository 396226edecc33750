"""One recipe per scenario (`agency`, `enterprise`, `startup`) and the building blocks they share.

A recipe is a plain function over a `Builder` and a seeded Faker: it decides who and what exists in
its scenario; the shared modules (`organisations`, `jobs`, `candidates`, `outbox`) decide how one
company, job, candidate pool or e-mail looks. The order of calls is part of the data: every draw
from the seeded generators shifts what follows, so moving a call changes the seeded rows.
"""
