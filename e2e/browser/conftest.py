"""Browser end-to-end tests: Debian's Chromium driven by Playwright for Python against the running stack
(`make run`), through nginx like a person's browser. They need /usr/bin/chromium (Debian package
`chromium`) and the `playwright` package; Playwright's own browser downloads are never used.

Screenshots of the main screens go to var/screenshots/ (gitignored) for people to look at.
"""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CDSS_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = ROOT / "var" / "screenshots"

from playwright import sync_api as playwright_sync  # noqa: E402 - after the constants the docstring names
from second_factor import secret_of, with_code  # noqa: E402


@pytest.fixture(scope="module")
def browser():
    """Per module: Playwright's sync API keeps an event loop running while it is open, which would stop
    the later (non-browser) tests from using asyncio.run."""
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: `make install` installs the Debian package chromium"
    with playwright_sync.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            # root has no user namespace sandbox here; software WebGL for the Cornerstone viewer
            args=["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"],
        )
        yield browser
        browser.close()


@pytest.fixture
def context(browser):
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1440, "height": 900}, locale="ko-KR")
    context.set_default_timeout(45_000)  # CI runs the other suites beside this one on two cores
    yield context
    context.close()


@pytest.fixture
def page(context):
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors  # uncaught exceptions in the page, for tests that want none
    return page


@pytest.fixture(scope="session")
def demo_password(env) -> str:
    return env["DEMO_PASSWORD"]


def _log_in(page, base_url: str, username: str, password: str, env: dict[str, str]):
    page.goto(f"{base_url}/login")
    page.get_by_label("사용자 이름").fill(username)
    page.get_by_label("비밀번호").fill(password)
    page.get_by_role("button", name="로그인").click()
    if secret_of(env, username):  # admin and ops: the second step, a code from their authenticator
        page.get_by_label("인증 코드").wait_for()
        with_code(env, username, lambda code: _second_step(page, code), refused=lambda signed_in: not signed_in)
    page.wait_for_url(lambda url: "/login" not in url)
    page.get_by_test_id("username").wait_for()
    return page


@pytest.fixture
def sign_in(page, base_url, demo_password, env):
    """Sign in through the form as a demo user; returns the page on the user's first screen."""

    def sign_in(username: str, password: str | None = None):
        return _log_in(page, base_url, username, password or demo_password, env)

    return sign_in


@pytest.fixture
def log_in(base_url, demo_password, env):
    """Sign in on another page (another browser context: another person)."""

    def log_in(page, username: str):
        return _log_in(page, base_url, username, demo_password, env)

    return log_in


def _second_step(page, code: str) -> bool:
    """Type the code and send it; whether the server took it (then the page leaves /login)."""
    page.get_by_label("인증 코드").fill(code)
    with page.expect_response(lambda response: response.url.endswith("/api/auth/login/otp")) as answer:
        page.get_by_role("button", name="확인").click()
    return answer.value.status == 200


@pytest.fixture(scope="session")
def screenshot():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def shot(page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return shot
