"""Stand-in for OpenEMR's OAuth2 server, Standard REST API and a sliver of its FHIR API (CONTRACTS.md B).

    backend/.venv/bin/python -m standins.openemr --port 8300 --data var/openemr.sqlite3 --password-grant 3 \\
        --client-id cds-local --client-secret <secret>

Faithful where clients get hurt: the `{validationErrors, internalErrors, data, links}` envelope with
string values, 400 (not 422) for validation, registration answering 200, the password grant off unless
enabled, rotating refresh tokens, `links` that name `_count` although /api/patient reads `_limit`, and
FHIR search Bundles of type `collection`. Seeded with synthetic patients (seed.py).

oauth.py      OAuth2: registration, tokens, introspection, the bearer check, the administrator's switches
patients.py   Standard API: patients          clinical.py  Standard API: what hangs off a patient
fhir.py       FHIR metadata and Patient        records.py   OpenEMR's rows in SQLite
shapes.py     URL layout, answer shapes        jose.py      base64url, JWT-shaped tokens, RS384 checks
seed.py       the synthetic records            server.py    the route table, schema, settings, command line
"""
