from acct.tests.matrix import ADMIN_ONLY, expect

RULE = "/api/routing/rules/{routing_rule}"
BODY = {"name": "matrix", "model_name": "mri-lesion-demo", "model_version": "1.0.0"}


def a_rule(request) -> str:
    from routing import services

    return str(services.rule_create(actor=None, name=f"matrix-{id(request)}", model_name="mri-lesion-demo").pk)


PLACEHOLDERS = {"routing_rule": a_rule}
NO_STUDY = {"study": 10**9}  # bodies take no placeholders: ADMIN passes the role check and learns there is none

ENTRIES = {
    "api/routing/rules": [
        ("get", "/api/routing/rules", None, ADMIN_ONLY),
        ("post", "/api/routing/rules", BODY, expect(403, anonymous=401, ADMIN=201)),
    ],
    "api/routing/rules/<int:pk>": [
        ("get", RULE, None, ADMIN_ONLY),
        ("put", RULE, BODY, ADMIN_ONLY),
        ("patch", RULE, {"enabled": False}, ADMIN_ONLY),
        ("delete", RULE, None, expect(403, anonymous=401, ADMIN=204)),
    ],
    "api/routing/rules/<int:pk>/versions": [("get", f"{RULE}/versions", None, ADMIN_ONLY)],
    "api/routing/rules/<int:pk>/dry-run": [
        ("post", f"{RULE}/dry-run", NO_STUDY, expect(403, anonymous=401, ADMIN=404))
    ],
    "api/routing/rules/dry-run": [
        ("post", "/api/routing/rules/dry-run", {**NO_STUDY, "rule": {}}, expect(403, anonymous=401, ADMIN=404))
    ],
}
