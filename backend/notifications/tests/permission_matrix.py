from acct.tests.matrix import expect

# Only Alertmanager's bearer token opens the webhook: no user, whatever the role (tested in test_alerts.py).
ENTRIES = {"api/alerts/webhook": [("post", "/api/alerts/webhook?route=ops", {}, expect(403))]}
