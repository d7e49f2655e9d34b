"""A second reader when a routing rule asks for it (issue #17 item 2, ADR 0010): the result of a job that
requires one needs two approvals by two different radiologists; the first leaves it PRELIMINARY ("awaiting
second read", shown on the worklist with the first reader), the same radiologist cannot give both, a
rejection by either ends it, every read is audited and FHIR sees `final` only after the second."""

import pytest

from ai.models import AIResult
from audit.models import Action, AuditEvent
from core.models import OutboxMessage

from .factories import complete, make_job
from .test_sign_off import _fhir_get, _review, _run_queued_syncs

pytestmark = pytest.mark.django_db


def _double_read(doctor) -> AIResult:
    return complete(make_job(doctor.user, second_reader=True)).result


def test_the_first_approval_leaves_the_result_preliminary_awaiting_a_second_read(doctor, radiologist, pushed):
    result = _double_read(doctor)
    assert result.second_reader_required and not result.awaiting_second_read

    first = _review(radiologist, result, decision="approve", comment="One lesion, agree.")

    assert first.status_code == 200, first.content
    body = first.json()
    assert body["status"] == "PRELIMINARY" and body["report_status"] == "preliminary"
    assert body["awaiting_second_read"] is True and body["second_reader_required"] is True
    assert body["first_reader"] == radiologist.user.username and body["first_read_comment"] == "One lesion, agree."
    assert body["reviewed_by"] is None
    result.refresh_from_db()
    assert not result.is_signed and AIResult.objects.awaiting_second_read().filter(pk=result.pk).exists()
    assert not AIResult.objects.signed().filter(pk=result.pk).exists()
    read = AuditEvent.objects.get(action=Action.UPDATE, resource_type="ai_result", detail__read=1)
    assert read.actor_id == radiologist.user.pk and read.detail["review"] == "approve"
    # the other radiologists are told; the first reader is not
    [(recipients, payload)] = [
        (users, p) for users, p in pushed if p["type"] == "ai.result.awaiting_sign_off" and p["second_read"]
    ]
    assert radiologist.user.pk not in recipients and payload["result_id"] == result.pk


def test_the_same_radiologist_cannot_give_both_reads(doctor, radiologist):
    result = _double_read(doctor)
    assert _review(radiologist, result, decision="approve", comment="Agree.").status_code == 200

    again = _review(radiologist, result, decision="approve", comment="Agree again.")
    assert again.status_code == 403
    assert "second read must be by another radiologist" in again.json()["detail"]
    assert _review(radiologist, result, decision="reject", comment="Changed my mind.").status_code == 403
    korean = radiologist.post(f"/api/ai/results/{result.pk}/review", {"decision": "approve", "comment": "x"},
                              format="json", HTTP_ACCEPT_LANGUAGE="ko")  # fmt: skip
    assert korean.json()["detail"] == (
        f"결과 {result.pk}의 1차 판독을 하셨습니다. 2차 판독은 다른 영상의학과 전문의가 해야 합니다."
    )
    result.refresh_from_db()
    assert result.status == AIResult.Status.PRELIMINARY and result.reviewed_by is None


def test_a_second_radiologist_makes_it_final_and_fhir_final_only_then(fhir, doctor, radiologist, token_client):
    from fhir_sync.identifiers import SYSTEMS

    result = _double_read(doctor)
    second = token_client("RIB", "RADIOLOGIST")
    _run_queued_syncs(set())  # the result's arrival
    already = set(OutboxMessage.objects.values_list("pk", flat=True))
    assert _review(radiologist, result, decision="approve", comment="Agree.").status_code == 200
    assert _run_queued_syncs(already) == {}  # the first read sends nothing to FHIR
    [entry] = _fhir_get("DiagnosticReport", identifier=f"{SYSTEMS['DiagnosticReport']}|{result.pk}")["entry"]
    assert entry["resource"]["status"] == "preliminary"

    final = _review(second, result, decision="approve", comment="Agree too.")

    assert final.status_code == 200, final.content
    body = final.json()
    assert body["status"] == "FINAL" and body["awaiting_second_read"] is False
    assert (body["first_reader"], body["reviewed_by"]) == (radiologist.user.username, second.user.username)
    _run_queued_syncs(already)
    [entry] = _fhir_get("DiagnosticReport", identifier=f"{SYSTEMS['DiagnosticReport']}|{result.pk}")["entry"]
    report = entry["resource"]
    assert report["status"] == "final"
    assert "First read: approved: Agree." in report["conclusion"]
    assert "Radiology review: approved: Agree too." in report["conclusion"]
    reads = AuditEvent.objects.filter(action=Action.UPDATE, resource_type="ai_result", detail__review="approve")
    assert sorted((e.actor_id, e.detail.get("read")) for e in reads) == sorted(
        [(radiologist.user.pk, 1), (second.user.pk, 2)]
    )


@pytest.mark.parametrize("reader", ["first", "second"])
def test_a_rejection_by_either_reader_ends_it(doctor, radiologist, token_client, reader):
    result = _double_read(doctor)
    second = token_client("RIB", "RADIOLOGIST")
    if reader == "second":
        assert _review(radiologist, result, decision="approve", comment="Agree.").status_code == 200
    rejecting = radiologist if reader == "first" else second

    rejected = _review(rejecting, result, decision="reject", comment="Artefact, not a lesion.")

    assert rejected.status_code == 200 and rejected.json()["status"] == "CANCELLED"
    assert _review(second, result, decision="approve", comment="late").status_code == 409
    result.refresh_from_db()
    assert result.reviewed_by_id == rejecting.user.pk and not result.awaiting_second_read


def test_the_worklist_shows_the_first_reader(doctor, radiologist, token_client):
    single = complete(make_job(doctor.user)).result
    double = _double_read(doctor)
    assert _review(radiologist, double, decision="approve", comment="Agree.").status_code == 200

    rows = {
        row["result_id"]: row for row in token_client("RIB", "RADIOLOGIST").get("/api/ai/worklist").json()["results"]
    }

    assert (
        rows[double.pk]["awaiting_second_read"] is True and rows[double.pk]["first_reader"] == radiologist.user.username
    )
    assert rows[double.pk]["second_reader_required"] is True and rows[double.pk]["first_read_at"]
    assert rows[single.pk]["awaiting_second_read"] is False and rows[single.pk]["first_reader"] is None
    assert rows[single.pk]["second_reader_required"] is False


def test_a_result_without_the_requirement_is_final_after_one_approval(doctor, radiologist):
    result = complete(make_job(doctor.user)).result
    body = _review(radiologist, result, decision="approve", comment="Agree.").json()
    assert body["status"] == "FINAL" and body["first_reader"] is None and body["second_reader_required"] is False
