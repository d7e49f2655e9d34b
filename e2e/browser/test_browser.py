"""The web UI in a real browser: each role's sign-in and menu, a DICOM upload with per-file progress and
results, the study viewer, the admin pages, and screenshots of each main screen (var/screenshots/)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Each role's demo account (backend seed_demo) and the first screen it lands on.
ROLES = {
    "admin": ("ADMIN", "/manage/audit"),
    "doctor": ("DOCTOR", "/patients"),
    "radiologist": ("RIB", "/patients"),
    "nurse": ("NURSE", "/patients"),
    "ops": ("OPS", "/ops"),
}

NAV = "nav[aria-label='주 메뉴']"


def settle(page) -> None:
    """Wait until no section is loading any more (the screenshots show data, not spinners)."""
    page.wait_for_load_state("networkidle")
    page.wait_for_function("() => !document.querySelector('.mantine-Loader-root')", timeout=30_000)


def nav_links(page) -> list[str]:
    return page.locator(f"{NAV} a").evaluate_all("links => links.map(link => link.getAttribute('href'))")


@pytest.mark.parametrize("username", list(ROLES))
def test_each_role_signs_in_to_its_own_screen(sign_in, base_url, screenshot, username):
    role, home = ROLES[username]
    page = sign_in(username)
    page.wait_for_url(re.compile(re.escape(home) + "$"))
    assert role in page.locator("header").inner_text()
    links = nav_links(page)
    if role in ("DOCTOR", "RIB", "NURSE"):
        assert "/patients" in links and "/radiology" in links
    else:
        assert "/patients" not in links and "/radiology" not in links
    assert ("/radiology/upload" in links) == (role in ("DOCTOR", "RIB"))
    assert ("/manage/audit" in links) == (role == "ADMIN")
    screenshot(page, f"home-{username}")


def test_a_nurse_cannot_reach_upload(sign_in, base_url):
    page = sign_in("nurse")
    assert "/radiology/upload" not in nav_links(page)
    page.goto(f"{base_url}/radiology/upload")
    page.get_by_test_id("no-access").wait_for()
    assert page.get_by_test_id("dropzone").count() == 0


def test_an_ops_user_sees_no_patient_data(sign_in, base_url):
    page = sign_in("ops")
    page.goto(f"{base_url}/patients")
    page.get_by_test_id("no-access").wait_for()
    assert page.locator("table").count() == 0


def test_session_expiry_returns_to_sign_in_with_a_notice(sign_in, base_url, context):
    page = sign_in("nurse")
    context.clear_cookies()  # as if the session had expired on the server
    page.locator(NAV).get_by_role("link", name="영상 작업목록").click()  # the next API call answers 401
    page.get_by_test_id("session-expired").wait_for()
    assert "/login" in page.url and "next=%2Fradiology" in page.url


def _series(directory: Path, count: int = 12) -> list[Path]:
    sys.path.insert(0, str(ROOT / "backend"))
    from radiology.testing import series_instances, to_bytes

    paths = []
    for index, dataset in enumerate(series_instances(count, description="AX T1 browser e2e", patient_id="MRN100001")):
        path = directory / f"slice-{index:03d}.dcm"
        path.write_bytes(to_bytes(dataset))
        paths.append(path)
    return paths


def _seg(directory: Path, slices: list[Path]) -> Path | None:
    """A DICOM SEG over the slices, written by highdicom in the ai-server's environment (None without it)."""
    python = ROOT / "ai-server" / ".venv" / "bin" / "python"
    if not python.exists():
        return None
    out = directory / "seg.dcm"
    subprocess.run(  # noqa: S603 - the project's own interpreter and script
        [str(python), str(Path(__file__).with_name("make_seg.py")), str(out), *map(str, slices)],
        check=True,
        timeout=120,
    )
    return out


@pytest.fixture(scope="module")
def uploaded_study(tmp_path_factory):
    directory = tmp_path_factory.mktemp("series")
    slices = _series(directory)
    seg = _seg(directory, slices)
    return {"files": [*slices, *([seg] if seg else [])], "seg": seg is not None, "id": None}


def test_radiologist_uploads_a_study_and_sees_each_file_result(sign_in, base_url, screenshot, tmp_path, uploaded_study):
    page = sign_in("radiologist")
    page.get_by_role("link", name="DICOM 업로드").click()
    page.get_by_test_id("dropzone").wait_for()
    junk = tmp_path / "notes.txt"
    junk.write_text("not a DICOM file")
    files = [*uploaded_study["files"], junk]
    page.get_by_test_id("file-input").set_input_files([str(path) for path in files])

    summary = page.get_by_test_id("upload-summary")
    summary.wait_for(timeout=60_000)
    rows = page.get_by_test_id("upload-row")
    assert rows.count() == len(files)
    for index, path in enumerate(uploaded_study["files"]):
        row = rows.nth(index)
        assert path.name in row.inner_text()
        assert "저장됨" in row.inner_text()
        assert row.get_by_role("progressbar").get_attribute("aria-valuenow") == "100"
    junk_row = rows.nth(len(files) - 1)
    assert "거부됨" in junk_row.inner_text()
    assert page.get_by_test_id("overall-progress").get_by_role("progressbar").get_attribute("aria-valuenow") == "100"
    assert f"저장: {len(uploaded_study['files'])}" in summary.inner_text()
    screenshot(page, "upload-results")

    link = summary.get_by_role("link").first
    uploaded_study["id"] = int(link.get_attribute("href").rsplit("/", 1)[1])


def test_study_viewer_shows_the_series_and_scrolls(sign_in, base_url, screenshot, uploaded_study):
    assert uploaded_study["id"] is not None, "the upload test (which runs first) did not upload the study"
    page = sign_in("doctor")
    page.goto(f"{base_url}/radiology/studies/{uploaded_study['id']}")
    viewer = page.get_by_test_id("study-viewer")
    viewer.wait_for(timeout=60_000)  # the lazy chunk with Cornerstone3D
    page.get_by_test_id("series-thumbnail").first.wait_for()
    counter = viewer.get_by_text(re.compile(r"^\d+ / 12$"))
    counter.wait_for(timeout=60_000)
    before = counter.inner_text()
    page.get_by_test_id("viewport").hover()
    page.mouse.wheel(0, 300)
    page.wait_for_function(
        "before => [...document.querySelectorAll('[data-testid=study-viewer] p')]"
        ".some(p => /^\\d+ \\/ 12$/.test(p.textContent) && p.textContent !== before)",
        arg=before,
    )
    assert page.locator("[data-testid=viewport] canvas").count() >= 1
    screenshot(page, "study-viewer")

    if uploaded_study["seg"]:  # the study's own SEG series as a labelmap overlay, with toggle and opacity
        viewer.get_by_role("combobox", name="분할 오버레이").click()
        page.get_by_role("option", name=re.compile("SEG")).first.click()
        viewer.get_by_text("오버레이 표시 중").wait_for(timeout=60_000)
        toggle = viewer.get_by_role("switch", name="오버레이 표시")
        assert toggle.is_checked()
        screenshot(page, "study-viewer-overlay")
        toggle.click(force=True)
        assert not toggle.is_checked()
        toggle.click(force=True)
        opacity = viewer.get_by_role("slider", name="불투명도")
        opacity.focus()
        before = opacity.get_attribute("aria-valuenow")
        page.keyboard.press("ArrowRight")
        assert opacity.get_attribute("aria-valuenow") != before
        screenshot(page, "study-viewer-overlay-opacity")
    assert not [error for error in page.errors if "cornerstone" in error.lower()], page.errors


@pytest.mark.parametrize(
    ("username", "path", "ready", "name"),
    [
        ("doctor", "/patients", "table", "patients"),
        ("doctor", "/radiology", "table, .mantine-Text-root", "worklist"),
        ("admin", "/manage/audit", "table", "audit-log"),
        ("admin", "/manage/fhir", "[role=tabpanel]", "fhir-sync"),
        ("ops", "/notifications", "h3", "notifications"),
        ("doctor", "/ai/jobs", "h3", "ai-jobs"),
    ],
)
def test_main_screens(sign_in, base_url, screenshot, username, path, ready, name):
    page = sign_in(username)
    page.goto(f"{base_url}{path}")
    page.locator(ready).first.wait_for()
    settle(page)
    screenshot(page, name)


def test_patient_page_lists_imaging(sign_in, base_url, screenshot):
    page = sign_in("doctor")
    page.locator("table a").first.click()
    page.get_by_test_id("patient-studies").wait_for()
    settle(page)
    screenshot(page, "patient")


def test_audit_csv_export_downloads(sign_in, base_url):
    page = sign_in("admin")
    with page.expect_download() as download:
        page.get_by_test_id("csv-export").click()
    assert download.value.suggested_filename.endswith(".csv")
