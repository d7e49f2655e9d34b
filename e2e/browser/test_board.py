"""The tumour-board tab of the patient page in a real browser: the summary, its print layout (one column,
no navigation, a bounded page count), the PDF download in Korean, and the share to the FHIR server."""

import re

from test_browser import NAV, settle

MAX_PAGES = 4  # a board summary is read at a meeting: a few pages at most


def pages_of(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page\b", pdf))


def test_the_board_tab_prints_downloads_and_shares(sign_in, base_url, screenshot, tmp_path):
    page = sign_in("doctor")
    page.locator("table a").first.click()
    page.get_by_role("tab", name="종양 다학제 회의").click()
    for part in ("board-imaging", "board-trend", "board-omics", "board-pending", "board-problems", "board-medications"):
        page.get_by_test_id(part).wait_for()
    settle(page)
    screenshot(page, "tumour-board")

    page.emulate_media(media="print")
    assert not page.locator(NAV).is_visible(), "the navigation is hidden when printed"
    assert not page.get_by_role("button", name="인쇄").is_visible()
    printed = page.pdf(path=str(tmp_path / "printed.pdf"), format="A4")
    assert 1 <= pages_of(printed) <= MAX_PAGES, f"{pages_of(printed)} printed pages"
    screenshot(page, "tumour-board-print")
    page.emulate_media(media="screen")

    with page.expect_download() as download:
        page.get_by_role("link", name="PDF 내려받기").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    data = saved.read_bytes()
    assert saved.name.startswith("tumour-board-") and data.startswith(b"%PDF-")
    assert 1 <= pages_of(data) <= MAX_PAGES and b"NotoSansCJKkr" in data

    page.get_by_role("button", name="EMR(FHIR)에 공유").click()
    page.get_by_test_id("board-shared").wait_for()
    assert not page.errors, page.errors
