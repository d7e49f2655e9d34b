"""The multiplanar reformat in a real browser (software WebGL): a 24-slice series of 64x64 noise at 1 mm
in every direction, shown as axial, coronal and sagittal planes once its volume has streamed in; the
coronal and sagittal planes have the volume's shape (64 mm wide, 24 mm tall), the wheel moves the axial
plane through the slices, and a click with the crosshairs takes the other two planes to the point clicked
(docs/radiology.md "Multiplanar reformat")."""

import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SLICES, SIZE = 24, 64

# What a viewport's canvas shows: its size, how many pixels are not black, their bounding box and a hash
# of all pixels (to tell one slice from another).
PIXELS = """(testid) => {
  const canvas = document.querySelector(`[data-testid="${testid}"] canvas`);
  if (!canvas || !canvas.width || !canvas.height) return null;
  const { data, width, height } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
  let lit = 0, left = width, right = -1, top = height, bottom = -1, hash = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = 4 * (y * width + x);
      const value = Math.max(data[i], data[i + 1], data[i + 2]);
      hash = (hash * 31 + value) | 0;
      if (value > 8) {
        lit++;
        left = Math.min(left, x); right = Math.max(right, x); top = Math.min(top, y); bottom = Math.max(bottom, y);
      }
    }
  }
  return { width, height, lit, box: lit ? [left, top, right + 1, bottom + 1] : null, hash };
}"""

LOADED = """() => {
  if (document.querySelector("[data-testid=mpr-refusal]")) return true;
  const view = document.querySelector("[data-testid=mpr-view]");
  return view && Number(view.dataset.total) > 0 && view.dataset.loaded === view.dataset.total;
}"""

CROSSHAIRS_DRAWN = """() => ["axial", "coronal", "sagittal"].every(
  (plane) => document.querySelectorAll(`[data-testid=mpr-${plane}] svg line`).length >= 2
)"""


def _volume_files(directory: Path) -> list[Path]:
    """Noise slices (a different pattern on each) at z = 0..23 mm, with 1 mm pixels."""
    sys.path.insert(0, str(ROOT / "backend"))
    from radiology.testing import series_instances, to_bytes

    paths = []
    slices = series_instances(SLICES, size=SIZE, description="AX MPR browser e2e", patient_id="MRN100001")
    for index, dataset in enumerate(slices):
        dataset.PixelSpacing = [1.0, 1.0]
        dataset.SliceThickness = 1.0
        path = directory / f"mpr-{index:03d}.dcm"
        path.write_bytes(to_bytes(dataset))
        paths.append(path)
    return paths


def _upload(http, base_url: str, headers: dict[str, str], paths: list[Path]) -> int:
    response = http.post(
        f"{base_url}/api/radiology/uploads",
        headers=headers,
        timeout=120,
        files=[("files", (path.name, path.read_bytes(), "application/dicom")) for path in paths],
    )
    assert response.status_code in (200, 201), response.text
    assert response.json()["counts"]["rejected"] == 0, response.text
    [study] = response.json()["studies"]
    return study["id"]


def _pixels(page, testid: str, until=lambda shown: shown and shown["lit"], timeout: float = 30.0) -> dict:
    """The canvas's pixels once `until` holds (the last look when it never does)."""
    deadline = time.monotonic() + timeout
    while True:
        shown = page.evaluate(PIXELS, testid)
        if until(shown) or time.monotonic() > deadline:
            return shown
        page.wait_for_timeout(250)


def _slice(page, plane: str) -> str | None:
    return page.get_by_test_id(f"mpr-{plane}").get_attribute("data-slice")


def _aspect(shown: dict) -> float:
    left, top, right, bottom = shown["box"]
    return (right - left) / (bottom - top)


def test_reformat_shows_three_planes_of_the_volume(sign_in, base_url, http, token_headers, screenshot, tmp_path):
    headers = token_headers("radiologist")
    study = _upload(http, base_url, headers, _volume_files(tmp_path))
    http.delete(f"{base_url}/api/auth/token", headers=headers, timeout=10)

    page = sign_in("radiologist")
    console: list[str] = []
    page.on("console", lambda message: message.type in ("error", "warning") and console.append(message.text))
    page.goto(f"{base_url}/radiology/studies/{study}")
    viewer = page.get_by_test_id("study-viewer")
    viewer.get_by_text(re.compile(rf"^\d+ / {SLICES}$")).wait_for(timeout=60_000)  # the stack is on screen

    viewer.get_by_role("button", name="다평면 재구성").click()
    page.wait_for_function(LOADED, timeout=90_000)
    refusal = page.get_by_test_id("mpr-refusal")
    assert refusal.count() == 0, refusal.inner_text()
    mpr = page.get_by_test_id("mpr-view")
    assert mpr.get_attribute("data-loaded") == mpr.get_attribute("data-total") == str(SLICES)

    planes = {plane: _pixels(page, f"mpr-{plane}") for plane in ("axial", "coronal", "sagittal")}
    screenshot(page, "study-viewer-mpr")
    for plane, shown in planes.items():
        assert shown and shown["lit"] > 0, (plane, shown, page.errors, console[-10:])

    # the volume's shape: square across, 64 mm by 24 mm in the other two planes
    assert 0.85 < _aspect(planes["axial"]) < 1.18, planes["axial"]
    for plane in ("coronal", "sagittal"):
        assert 2.2 < _aspect(planes[plane]) < 3.2, (plane, planes[plane])

    # the wheel moves the axial plane to other slices
    axial = page.get_by_test_id("mpr-axial")
    before = axial.get_attribute("data-slice")
    assert before is not None, axial.inner_text()
    box = axial.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(3):
        page.mouse.wheel(0, 120)
        page.wait_for_timeout(100)
    page.wait_for_function(
        "(before) => document.querySelector('[data-testid=mpr-axial]').dataset.slice !== before",
        arg=before,
        timeout=10_000,
    )
    first = planes["axial"]["hash"]
    moved = _pixels(page, "mpr-axial", until=lambda shown: shown and shown["hash"] != first, timeout=10)
    assert moved["hash"] != first, "the axial plane shows the same pixels after scrolling"
    assert axial.inner_text().startswith("축상면"), axial.inner_text()
    screenshot(page, "study-viewer-mpr-scrolled")

    # crosshairs: their lines over each plane; a click in the axial plane takes the other two there
    crosshairs = mpr.get_by_role("switch", name="십자선")
    crosshairs.click(force=True)  # Mantine's input lies over its track
    assert crosshairs.is_checked()
    page.wait_for_function(CROSSHAIRS_DRAWN, timeout=15_000)
    across = {plane: _slice(page, plane) for plane in ("coronal", "sagittal")}
    page.mouse.click(box["x"] + 0.2 * box["width"], box["y"] + 0.3 * box["height"])
    page.wait_for_function(
        "(before) => Object.entries(before).every(([plane, slice]) =>"
        " document.querySelector(`[data-testid=mpr-${plane}]`).dataset.slice !== slice)",
        arg=across,
        timeout=10_000,
    )
    screenshot(page, "study-viewer-mpr-crosshairs")
    assert page.errors == [], page.errors
