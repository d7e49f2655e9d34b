from acct.tests.matrix import expect

# Operations data, no patient's: OPS and ADMIN only (test_overview.py).
ENTRIES = {"api/ops/overview": [("get", "/api/ops/overview", None, expect(403, anonymous=401, OPS=200, ADMIN=200))]}
