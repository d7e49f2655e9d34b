"""A patient's tumour course: lesion volume per label over the studies, the change from baseline and from
nadir, and a volumetric response category. Pure computation (no database), so it can be checked with
known numbers; ai.selectors gathers the signed results and ai.api serves them.

Thresholds (docs/ai.md, "Tumour course"): the volumetric equivalents of the RANO 2010 bidimensional
criteria (Wen et al., J Clin Oncol 2010; summary table https://pmc.ncbi.nlm.nih.gov/articles/PMC10584081/table/T1),
extrapolated for a sphere: a 50 % decrease of the product of two diameters is 0.5^1.5 ~ 0.35 of the
volume (a 65 % decrease), a 25 % increase is 1.25^1.5 ~ 1.40 (a 40 % increase); Ellingson et al. 2017
(https://pmc.ncbi.nlm.nih.gov/articles/PMC5398984) argues for volumetric assessment. The category is an
aid computed from AI volumes, not a RANO assessment: RANO also weighs non-enhancing disease, new lesions
seen by a reader, steroids and the clinical state, none of which this sees.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _

SOURCE = (
    "Volumetric equivalents of RANO 2010 (Wen et al., J Clin Oncol 2010): partial response >= 65 % decrease "
    "from baseline, progression >= 40 % increase from nadir (0.5^1.5 and 1.25^1.5 for a sphere); "
    "Ellingson et al., Neuro-Oncology 2017."
)
AID_LABEL = _("volumetric, RANO-style aid; not a RANO assessment")

PARTIAL_RESPONSE_FRACTION = Decimal("0.35")  # volume at or below 35 % of baseline: >= 65 % decrease
PROGRESSION_FRACTION = Decimal("1.40")  # volume at or above 140 % of nadir: >= 40 % increase
CONFIRMATION_DAYS = 28  # complete response: gone, and still gone at least 4 weeks later

ML = Decimal("0.001")  # the ai-server reports mL to three decimals (1 mm3)
PERCENT = Decimal("0.1")


class Category:
    BASELINE = "baseline"
    COMPLETE_RESPONSE = "CR"
    PARTIAL_RESPONSE = "PR"
    STABLE = "SD"
    PROGRESSION = "PD"
    NOT_EVALUABLE = "NE"  # no measurable baseline (nothing to compare a decrease with)


DISPLAY = {
    Category.BASELINE: _("baseline"),
    Category.COMPLETE_RESPONSE: _("complete response (volumetric)"),
    Category.PARTIAL_RESPONSE: _("partial response (volumetric)"),
    Category.STABLE: _("stable disease (volumetric)"),
    Category.PROGRESSION: _("progression (volumetric)"),
    Category.NOT_EVALUABLE: _("not evaluable"),
}


@dataclass(frozen=True)
class Point:
    """One study's signed segmentation: its date and the volume (mL) of each label."""

    study_id: int
    study_date: date
    result_id: int
    volumes_ml: dict[str, Any]
    model: str = ""
    study_uid: str = ""


def _ml(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        return None
    try:
        number = Decimal(str(value)).quantize(ML, rounding=ROUND_HALF_UP)
    except ArithmeticError:
        return None
    return number if number.is_finite() and number >= 0 else None


def _percent(value: Decimal, reference: Decimal) -> Decimal | None:
    if reference == 0:
        return None
    return ((value - reference) * 100 / reference).quantize(PERCENT, rounding=ROUND_HALF_UP)


def _category(value: Decimal, baseline: Decimal, nadir: Decimal, confirmed_gone: bool) -> str:
    """Progression first (it overrides a response), as in RANO; exact comparisons of the ratios, so a
    boundary case (exactly 65 % less) counts as the threshold says ("at least")."""
    if (nadir == 0 and value > 0) or (nadir > 0 and value >= nadir * PROGRESSION_FRACTION):
        return Category.PROGRESSION
    if baseline == 0:
        return Category.NOT_EVALUABLE
    if value == 0 and confirmed_gone:
        return Category.COMPLETE_RESPONSE
    if value <= baseline * PARTIAL_RESPONSE_FRACTION:
        return Category.PARTIAL_RESPONSE
    return Category.STABLE


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def label_course(points: list[Point], label: str) -> list[dict[str, Any]]:
    """The label's figures at each of `points` (in date order) where the label was measured."""
    measured = [(point, _ml(point.volumes_ml.get(label))) for point in points]
    measured = [(point, volume) for point, volume in measured if volume is not None]
    rows: list[dict[str, Any]] = []
    baseline = nadir = None
    for index, (point, volume) in enumerate(measured):
        row: dict[str, Any] = {
            "study_id": point.study_id,
            "study_date": point.study_date.isoformat(),
            "result_id": point.result_id,
            "volume_ml": float(volume),
        }
        if baseline is None:
            baseline = nadir = volume
            row.update(
                baseline_ml=float(volume),
                nadir_ml=None,
                change_from_baseline_percent=None,
                change_from_nadir_percent=None,
                category=Category.BASELINE,
            )
        else:
            # gone now, and still gone at a study at least four weeks later
            confirmed = volume == 0 and any(
                later_volume == 0 and (later.study_date - point.study_date).days >= CONFIRMATION_DAYS
                for later, later_volume in measured[index + 1 :]
            )
            row.update(
                baseline_ml=float(baseline),
                nadir_ml=float(nadir),
                change_from_baseline_percent=_float(_percent(volume, baseline)),
                change_from_nadir_percent=_float(_percent(volume, nadir)),
                category=_category(volume, baseline, nadir, confirmed),
            )
            nadir = min(nadir, volume)  # the smallest so far, baseline included: the next study's reference
        row["category_display"] = str(DISPLAY[row["category"]])
        rows.append(row)
    return rows


def course(points: Iterable[Point]) -> dict[str, Any]:
    """{"studies": [...], "labels": {label: [row per study]}, thresholds and their source}: JSON-ready."""
    ordered = sorted(points, key=lambda point: (point.study_date, point.study_id))
    labels = sorted({label for point in ordered for label in point.volumes_ml})
    series = {label: label_course(ordered, label) for label in labels}
    return {
        "studies": [
            {
                "study_id": point.study_id,
                "study_instance_uid": point.study_uid,
                "study_date": point.study_date.isoformat(),
                "result_id": point.result_id,
                "model": point.model,
            }
            for point in ordered
        ],
        "labels": {label: rows for label, rows in series.items() if rows},
        "unit": "mL",
        "thresholds": {
            "partial_response_decrease_percent": 65,
            "progression_increase_percent": 40,
            "complete_response_confirmation_days": CONFIRMATION_DAYS,
        },
        "source": SOURCE,
        "label": str(AID_LABEL),
    }


# --- what goes to FHIR ----------------------------------------------------------------------------------------
class Figure:
    """The kinds of course Observation, one each per study and label (the baseline study has a volume only)."""

    VOLUME = "volume"
    FROM_BASELINE = "baseline"
    FROM_NADIR = "nadir"
    RESPONSE = "response"


def figure_id(result_id: int, kind: str, label: str) -> str:
    """The FHIR sync entity id of one figure: "<result pk>:<kind>:<label>"."""
    return f"{result_id}:{kind}:{label}"


def figures(course_: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(entity id, kind, label, the label's row at that study) for every figure the course holds."""
    found = []
    for label, rows in course_["labels"].items():
        for row in rows:
            kinds = [Figure.VOLUME]
            if row["change_from_baseline_percent"] is not None:
                kinds.append(Figure.FROM_BASELINE)
            if row["change_from_nadir_percent"] is not None:
                kinds.append(Figure.FROM_NADIR)
            if row["category"] != Category.BASELINE:
                kinds.append(Figure.RESPONSE)
            found += [(figure_id(row["result_id"], kind, label), kind, label, row) for kind in kinds]
    return found
