"""The demo imaging `make run` loads: synthetic brain MR studies with one lesion of known volume for a few
of the EMR stand-in's brain-tumour patients, one of them at three dates (the lesion shrinks, then grows
again), and a demo expression profile for the omics model. Each study is a brain-tumour exam of four series
on one grid: T1 (what the demo model reads), T1 post-contrast, T2 and FLAIR, the last three derived from the
T1 case by simple intensity maps (demo_contrasts.py: a demo picture, not MR physics). Written as DICOM
files and a manifest by the project's own generator (synthetic.py); nothing here is committed, nothing is
patient data.

    python -m ai_server.demo_imaging OUT_DIR     # writes OUT_DIR/manifest.json and the files it names

Every UID derives from the patient and the date, so a rerun (or another checkout) writes the very same
studies: Orthanc answers AlreadyStored and the CDSS finds its rows again. A directory that already holds
this version's complete output is left as it is (a rerun takes well under a second). The Django command
`manage.py seed_demo_imaging OUT_DIR` stores what Orthanc lacks and runs the analyses (docs/ai.md).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from pydicom.uid import generate_uid

VERSION = 2  # bump when the studies change: a directory written by another version is written again
MANIFEST = "manifest.json"
UID_SEED = "cdss-demo-imaging"
EXAMPLE_PROFILE = Path(__file__).resolve().parents[2] / "models" / "omics-cox-gse7390" / "1.1.0" / "example-profile.csv"


class DemoStudy(NamedTuple):
    mrn: str  # the EMR stand-in's record number (standins/openemr/seed.py, seed 20260115)
    date: str  # YYYY-MM-DD
    lesion_radius_mm: float
    seed: int  # the lesion's place and outline: one seed per patient, so the lesion stays where it was
    sign_off: bool  # the demo radiologist approves its result (FINAL); otherwise it waits (PRELIMINARY)


# MRN100012: glioblastoma (left frontal) in the stand-in's problem list, followed at three dates: the
# volume falls by about 70 % (a partial response by the volumetric thresholds of shared/STANDARDS.md §4),
# then rises by about 70 % from that nadir (progression). The other two wait for sign-off.
STUDIES = (
    DemoStudy("MRN100012", "2026-06-02", 15.0, 12, True),
    DemoStudy("MRN100012", "2026-09-01", 10.0, 12, True),
    DemoStudy("MRN100012", "2026-11-24", 12.0, 12, True),
    DemoStudy("MRN100011", "2026-11-27", 13.0, 11, False),
    DemoStudy("MRN100006", "2026-12-01", 9.0, 6, False),
)
# One expression profile (the omics model's held-out GSE7390 example), for the three-date patient.
EXPRESSION = ({"mrn": "MRN100012", "sign_off": True},)


def _uid(*parts: str) -> str:
    return generate_uid(entropy_srcs=[UID_SEED, *parts])


def _complete(out: Path) -> dict | None:
    try:
        manifest = json.loads((out / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if manifest.get("version") != VERSION:
        return None
    files = [out / name for study in manifest["studies"] for name in study["files"]]
    files += [out / item["file"] for item in manifest["expression"]]
    return manifest if all(path.is_file() for path in files) else None


def series_uid(mrn: str, date: str, sequence: str) -> str:
    """The T1 keeps the UID of the one-series demo (VERSION 1), so that its analyses stay valid."""
    return _uid(mrn, date, "series") if sequence == "T1" else _uid(mrn, date, "series", sequence)


def _write_study(out: Path, spec: DemoStudy) -> dict:
    from ai_server import demo_contrasts, synthetic  # torch and nilearn's template: only when writing

    case = synthetic.make_case(seed=spec.seed, lesion_radius_mm=spec.lesion_radius_mm)
    study_uid = _uid(spec.mrn, spec.date, "study")
    when = datetime.fromisoformat(spec.date).replace(hour=9, tzinfo=UTC)
    folder = f"{spec.mrn}-{spec.date}"
    names, series = [], []
    volumes = demo_contrasts.exam(case, synthetic.template_volume())
    for sequence in demo_contrasts.SEQUENCES:
        uid = series_uid(spec.mrn, spec.date, sequence.name)
        files = synthetic.write_series(
            volumes[sequence.name], case.spacing, when=when, series_description=sequence.description,
            patient_id=spec.mrn, patient_name=f"Demo^{spec.mrn}", study_instance_uid=study_uid,
            series_instance_uid=uid, accession_number="", series_number=sequence.number,
        )  # fmt: skip
        (out / folder / sequence.name).mkdir(parents=True)
        for index, data in enumerate(files):
            name = f"{folder}/{sequence.name}/IM{index:04d}.dcm"
            (out / name).write_bytes(data)
            names.append(name)
        series.append({"sequence": sequence.name, "description": sequence.description,
                       "series_instance_uid": uid, "instances": len(files)})  # fmt: skip
    print(f"  {spec.mrn} {spec.date}: {len(series)} series, {len(names)} images, lesion {case.lesion_ml:.2f} ml",
          flush=True)  # fmt: skip
    return {
        "mrn": spec.mrn,
        "study_date": spec.date,
        "study_instance_uid": study_uid,
        "series_instance_uid": series[0]["series_instance_uid"],  # the T1: what the demo model reads
        "instances": len(names),  # all series
        "series": series,
        "lesion_ml": round(case.lesion_ml, 3),
        "sign_off": spec.sign_off,
        "files": names,
    }


def generate(out: Path) -> tuple[dict, bool]:
    """Write the demo studies and the manifest into `out` unless it holds them already.
    Returns (manifest, whether anything was written)."""
    if manifest := _complete(out):
        return manifest, False
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    studies = [_write_study(out, spec) for spec in STUDIES]
    expression = []
    for item in EXPRESSION:
        name = f"expression-{item['mrn']}.csv"
        data = EXAMPLE_PROFILE.read_bytes()
        (out / name).write_bytes(data)
        expression.append({**item, "file": name, "sha256": hashlib.sha256(data).hexdigest()})
    manifest = {"version": VERSION, "studies": studies, "expression": expression}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest, True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="directory for manifest.json and the DICOM files")
    args = parser.parse_args(argv)
    manifest, written = generate(args.out)
    what = "written" if written else "already there"
    print(f"demo imaging {what}: {len(manifest['studies'])} studies, {len(manifest['expression'])} profile(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
