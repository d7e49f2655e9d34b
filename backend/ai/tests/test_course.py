"""Tumour course (issue 17 item 3): synthetic studies at three dates with known volumes give exact
changes and categories; only signed results count, once per study; the endpoint is audited; the figures
reach the HAPI stand-in as Observations dated by the study."""

from datetime import date

import pytest
import requests
from django.conf import settings

from ai import services
from ai.course import Category, Point, course
from ai.models import AIResult
from audit.models import Action, AuditEvent
from core.models import OutboxMessage
from fhir_sync import services as fhir_sync
from fhir_sync.identifiers import SYSTEMS
from fhir_sync.tests.r4 import valid_r4

from .factories import complete, make_job, make_patient, make_study

# (date, lesion mL, oedema mL): lesion 10 -> 3.5 (exactly 65 % less: partial response) -> 4.9 (exactly
# 40 % above the nadir 3.5: progression, though still 51 % below baseline); oedema 20 -> 18 -> 25
# (+38.9 % from its nadir: just short of progression, stable)
VISITS = [
    (date(2026, 1, 5), 10.0, 20.0),
    (date(2026, 3, 2), 3.5, 18.0),
    (date(2026, 5, 4), 4.9, 25.0),
]


def _points(volumes: list[tuple[date, float]]) -> list[Point]:
    return [Point(study_id=n, study_date=day, result_id=100 + n, volumes_ml={"lesion": ml}) for n, (day, ml) in
            enumerate(volumes, start=1)]  # fmt: skip


def _figures(rows: list[dict]) -> list[tuple]:
    return [
        (r["volume_ml"], r["change_from_baseline_percent"], r["change_from_nadir_percent"], r["category"]) for r in rows
    ]


def test_three_dates_give_exact_changes_and_categories():
    points = [
        Point(study_id=n, study_date=day, result_id=100 + n, volumes_ml={"lesion": lesion, "oedema": oedema})
        for n, (day, lesion, oedema) in enumerate(reversed(VISITS), start=1)  # given out of order
    ]
    answer = course(points)
    assert [s["study_date"] for s in answer["studies"]] == ["2026-01-05", "2026-03-02", "2026-05-04"]
    lesion, oedema = answer["labels"]["lesion"], answer["labels"]["oedema"]
    assert _figures(lesion) == [
        (10.0, None, None, Category.BASELINE),
        (3.5, -65.0, -65.0, Category.PARTIAL_RESPONSE),
        (4.9, -51.0, 40.0, Category.PROGRESSION),
    ]
    assert [(r["baseline_ml"], r["nadir_ml"]) for r in lesion] == [(10.0, None), (10.0, 10.0), (10.0, 3.5)]
    assert _figures(oedema) == [
        (20.0, None, None, Category.BASELINE),
        (18.0, -10.0, -10.0, Category.STABLE),
        (25.0, 25.0, 38.9, Category.STABLE),
    ]
    assert answer["unit"] == "mL" and "not a RANO assessment" in answer["label"]
    assert "Wen" in answer["source"] and answer["thresholds"]["progression_increase_percent"] == 40


def test_just_short_of_the_thresholds_is_stable():
    """The category compares the exact volumes; the percentages are rounded for display only."""
    rows = course(_points([(date(2026, 1, 1), 10.0), (date(2026, 2, 1), 3.501), (date(2026, 3, 1), 4.9)]))
    assert _figures(rows["labels"]["lesion"])[1:] == [
        (3.501, -65.0, -65.0, Category.STABLE),  # 64.99 % less
        (4.9, -51.0, 40.0, Category.STABLE),  # 39.96 % more: 4.9 < 1.4 x 3.501 = 4.9014
    ]


def test_complete_response_needs_a_confirming_study_four_weeks_later_and_a_return_is_progression():
    days = [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1), date(2026, 3, 20), date(2026, 5, 1)]
    rows = course(_points(list(zip(days, [8.0, 0.0, 0.0, 0.0, 0.2], strict=True))))["labels"]["lesion"]
    # 2026-02-01 is confirmed by 2026-03-01 (28 days); 2026-03-01 only by 2026-03-20 (19 days): not yet
    assert [r["category"] for r in rows] == ["baseline", "CR", "PR", "PR", "PD"]
    assert rows[4]["change_from_nadir_percent"] is None  # from nothing: no percent, but progression


def test_no_measurable_baseline_is_not_evaluable_until_something_grows():
    rows = course(_points([(date(2026, 1, 1), 0.0), (date(2026, 2, 1), 0.0), (date(2026, 3, 1), 1.0)]))
    assert [r["category"] for r in rows["labels"]["lesion"]] == ["baseline", "NE", "PD"]


# --- from the database: signed results only, once per study -----------------------------------------------------
def _signed(user, radiologist_user, study, volumes: dict, *, approve: bool = True) -> AIResult:
    job = complete(make_job(user, study=study), metrics={"volume_ml": volumes, "lesion_count": 1})
    if approve:
        services.result_review(actor=radiologist_user, result=job.result, decision="approve", comment="agree")
    return AIResult.objects.get(pk=job.result.pk)


def _three_visits(doctor, radiologist):
    patient = make_patient()
    results = []
    for day, lesion, oedema in VISITS:
        study = make_study(patient)
        study.study_date = day
        study.save(update_fields=["study_date"])
        results.append(_signed(doctor.user, radiologist.user, study, {"lesion": lesion, "oedema": oedema}))
    return patient, results


@pytest.mark.django_db
def test_endpoint_counts_signed_results_once_per_study_and_is_audited(doctor, radiologist, nurse, pushed):
    patient, results = _three_visits(doctor, radiologist)
    last_study = results[-1].job.study
    _signed(doctor.user, radiologist.user, make_study(patient), {"lesion": 99.0})  # no study date: left out, named
    unsigned = make_study(patient)
    unsigned.study_date = date(2026, 6, 1)
    unsigned.save(update_fields=["study_date"])
    _signed(doctor.user, radiologist.user, unsigned, {"lesion": 50.0}, approve=False)  # PRELIMINARY: not counted
    # an older signed result of the last study (earlier review): the later one counts
    older = _signed(doctor.user, radiologist.user, last_study, {"lesion": 1.0, "oedema": 1.0})
    AIResult.objects.filter(pk=older.pk).update(reviewed_at=results[-1].reviewed_at.replace(year=2025))

    response = nurse.get(f"/api/patients/{patient.emr_uuid}/tumour-course")
    assert response.status_code == 200, response.content
    body = response.json()
    assert [s["result_id"] for s in body["studies"]] == [r.pk for r in results]
    assert len(body["undated_study_ids"]) == 1
    assert _figures(body["labels"]["lesion"]) == [
        (10.0, None, None, "baseline"),
        (3.5, -65.0, -65.0, "PR"),
        (4.9, -51.0, 40.0, "PD"),
    ]
    assert [r["study_date"] for r in body["labels"]["oedema"]] == ["2026-01-05", "2026-03-02", "2026-05-04"]
    reads = AuditEvent.objects.filter(action=Action.READ, resource_type="tumour_course", patient_id=patient.emr_uuid)
    assert reads.count() == 1 and reads.get().actor_id == nurse.user.pk

    korean = nurse.get(f"/api/patients/{patient.emr_uuid}/tumour-course", HTTP_ACCEPT_LANGUAGE="ko").json()
    assert korean["labels"]["lesion"][2]["category"] == "PD"
    assert korean["label"] != body["label"]  # translated
    assert nurse.get("/api/patients/no-such-patient/tumour-course").status_code == 404


@pytest.mark.django_db
def test_signing_queues_every_figure_of_the_course(doctor, radiologist, pushed):
    _patient, results = _three_visits(doctor, radiologist)
    queued = OutboxMessage.objects.filter(target="fhir_sync.sync_entity", payload__args__0="ai.course")
    ids = {m.payload["args"][1] for m in queued}
    first, second, third = (r.pk for r in results)
    # two labels: a volume at each study, change from baseline / nadir and the category after the first
    assert {i for i in ids if i.startswith(f"{first}:")} == {f"{first}:volume:lesion", f"{first}:volume:oedema"}
    kinds = ("volume", "baseline", "nadir", "response")
    expected = {f"{third}:{kind}:{label}" for kind in kinds for label in ("lesion", "oedema")}
    assert {i for i in ids if i.startswith(f"{third}:")} == expected
    assert len(ids) == 2 + 8 + 8 and f"{second}:response:lesion" in ids


# --- FHIR ------------------------------------------------------------------------------------------------------
def _observations(patient_reference: str) -> list[dict]:
    answer = requests.get(
        f"{settings.FHIR_BASE_URL}/Observation",
        params={"subject": patient_reference, "_count": 200},
        headers={"Cache-Control": "no-cache", "Accept": "application/fhir+json"},
        timeout=10,
    )
    answer.raise_for_status()
    return [entry["resource"] for entry in answer.json().get("entry", [])]


@pytest.mark.django_db
def test_course_figures_reach_fhir_as_observations_dated_by_the_study(fhir, doctor, radiologist, pushed):
    patient, results = _three_visits(doctor, radiologist)
    queued = OutboxMessage.objects.filter(target="fhir_sync.sync_entity", payload__args__0="ai.course")
    outcomes = {m.payload["args"][1]: fhir_sync.sync_entity_now(*m.payload["args"]) for m in queued}  # as a worker
    assert len(outcomes) == 18 and {o.outcome for o in outcomes.values()} <= {"created", "unchanged"}
    third = results[2].pk
    subject = fhir_sync.mapping_for("emr.patient", patient.pk).reference
    course_identifiers = f"{SYSTEMS['Observation']}"
    found = {
        o["identifier"][0]["value"]: o
        for o in _observations(subject)
        if o["identifier"][0]["system"] == course_identifiers and "-course-" in o["identifier"][0]["value"]
    }
    assert len(found) == 18
    for observation in found.values():
        valid_r4(observation)  # the R4 structure definitions, as the FHIR server holds them

    volume = found[f"{third}-course-volume-lesion"]
    assert volume["effectiveDateTime"] == "2026-05-04" and volume["status"] == "final"
    assert volume["code"]["coding"][0] == {"system": "http://snomed.info/sct", "code": "118565006", "display": "Volume"}
    assert volume["valueQuantity"] == {"value": 4.9, "unit": "mL", "system": "http://unitsofmeasure.org", "code": "mL"}
    assert volume["bodySite"]["coding"][0]["code"] == "12738006"
    assert volume["derivedFrom"][0]["reference"].startswith("ImagingStudy/")

    baseline = found[f"{third}-course-baseline-lesion"]
    assert baseline["valueQuantity"]["value"] == -51.0 and baseline["valueQuantity"]["code"] == "%"
    assert baseline["code"]["coding"][0]["code"] == "volume-change-from-baseline"
    assert found[f"{third}-course-nadir-lesion"]["valueQuantity"]["value"] == 40.0
    response = found[f"{third}-course-response-lesion"]
    assert response["code"]["coding"][0] == {
        "system": "http://loinc.org",
        "code": "97509-4",
        "display": "Cancer disease progression",
    }
    assert response["valueCodeableConcept"]["coding"][0]["code"] == "PD"
    assert "not a RANO assessment" in response["valueCodeableConcept"]["text"]
    assert found[f"{results[1].pk}-course-response-lesion"]["valueCodeableConcept"]["coding"][0]["code"] == "PR"
    assert found[f"{results[0].pk}-course-volume-oedema"]["effectiveDateTime"] == "2026-01-05"

    # a fourth study signed before the first: it becomes the baseline, so every later change is re-sent
    earlier = make_study(patient)
    earlier.study_date = date(2025, 11, 3)
    earlier.save(update_fields=["study_date"])
    first = _signed(doctor.user, radiologist.user, earlier, {"lesion": 20.0, "oedema": 20.0})
    ids = services.course_sync_request(patient_pk=patient.pk)
    again = {entity_id: fhir_sync.sync_entity_now("ai.course", entity_id) for entity_id in ids}
    assert again[f"{third}:baseline:lesion"].outcome == "updated"
    assert again[f"{first.pk}:volume:lesion"].outcome == "created"
    found = {o["identifier"][0]["value"]: o for o in _observations(subject)}
    assert found[f"{third}-course-baseline-lesion"]["valueQuantity"]["value"] == -75.5  # 4.9 against 20
