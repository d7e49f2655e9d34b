"""The operations page in a real browser: the demo OPS user (password and TOTP code) lands on it and sees
each dependency's state, and nothing of any patient."""

import re

from test_ops import demo_patient_identifiers

NAV = "nav[aria-label='주 메뉴']"


def test_ops_lands_on_the_operations_page_with_the_dependencies(sign_in, base_url, screenshot, http, token_headers):
    page = sign_in("ops")
    page.wait_for_url(re.compile(r"/ops$"))
    page.get_by_role("heading", name="운영 현황").wait_for()
    database = page.get_by_test_id("dependency-database")
    database.wait_for()
    assert "정상" in database.inner_text()
    for name in ("redis", "rabbitmq", "orthanc", "object_storage", "fhir", "emr", "ai_server"):
        assert page.get_by_test_id(f"dependency-{name}").count() == 1, name
    page.get_by_test_id("queue-ai_jobs").wait_for()
    assert page.locator(NAV).get_by_role("link", name="운영 현황").count() == 1
    page.wait_for_load_state("networkidle")
    screenshot(page, "ops")

    text = page.locator("main").inner_text()
    for identifier in demo_patient_identifiers(http, base_url, token_headers("doctor")):
        assert identifier not in text
