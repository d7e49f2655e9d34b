from acct.tests.matrix import ADMIN_ONLY

ENTRIES = {
    "api/audit/events": [("get", "/api/audit/events", None, ADMIN_ONLY)],
    "api/audit/events.csv": [("get", "/api/audit/events.csv", None, ADMIN_ONLY)],
}
