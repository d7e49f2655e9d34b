from acct.tests.matrix import AUTHENTICATED, PUBLIC, expect

ENTRIES = {
    "api/auth/csrf": [("get", "/api/auth/csrf", None, PUBLIC)],
    "api/auth/login": [("post", "/api/auth/login", {}, expect(400))],  # open to all; empty body is invalid
    # The second step and enrolment answer browser sessions only (a token names nobody there).
    "api/auth/login/otp": [("post", "/api/auth/login/otp", {}, expect(400))],  # empty body is invalid
    "api/auth/otp/enrolment": [("post", "/api/auth/otp/enrolment", None, expect(403))],
    "api/auth/otp/enrolment/confirm": [("post", "/api/auth/otp/enrolment/confirm", {}, expect(400))],
    "api/auth/logout": [("post", "/api/auth/logout", None, expect(204, anonymous=401, SERVICE=403))],
    "api/auth/me": [("get", "/api/auth/me", None, AUTHENTICATED)],
    "api/auth/token": [
        ("post", "/api/auth/token", {}, expect(400)),
        ("delete", "/api/auth/token", None, expect(204, anonymous=401)),
    ],
    "api/schema": [("get", "/api/schema", None, PUBLIC)],
    "api/docs": [("get", "/api/docs", None, PUBLIC)],
}
