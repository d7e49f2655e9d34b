"""Stand-in for a HAPI FHIR R4 JPA server with the starter's defaults (CONTRACTS.md section A).

    backend/.venv/bin/python -m standins.hapi --port 8080 --data var/hapi.sqlite3   (from the repository root)

Faithful where clients get hurt: 409 (not 412) on an If-Match mismatch, 200 without a write when a
conditional create matches, 410 for deleted resources and expired searches, `Location` on POST only,
HAPI-nnnn diagnostics, referential integrity on write and delete, `_getpages` paging links. Like stock
HAPI it has no authentication unless started with --auth (then it plays the OAuth2 gateway of A.15).

server.py     the route table, schema, settings, command line
reads.py      read, vread, history, CapabilityStatement   search.py   search, paging, conditional URLs
writes.py     create, update, delete, validation, integrity  bundles.py  transaction and batch
gateway.py    the OAuth2 gateway and the bearer check      versions.py resources and versions in SQLite
r4.py         resource types, bindings, required elements  outcomes.py OperationOutcomes, HAPI-nnnn texts
inputs.py     bodies, numbers, ETags, Prefer               part.py     store, clock, settings, base path
"""
