"""seed_demo_imaging (ai.demo) on the real Orthanc, object store and database: what counts as loaded is what
Orthanc and the object store hold, not what the (possibly shared) database remembers."""

import contextlib
import json

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command

from ai import demo, services
from ai.models import AIJob, AIResult
from ai.tests.factories import complete, make_job, make_patient, put_artifact
from audit.models import Action, AuditEvent
from core.errors import InvalidTransition
from core.http import ExternalNotFound
from core.storage import storage_client
from radiology.clients.orthanc_client import OrthancClient
from radiology.models import Study
from radiology.testing import series_instances, to_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _store_inline(settings):
    settings.RADIOLOGY_UPLOAD_CONCURRENCY = 1  # other threads cannot see the test's transaction


@pytest.fixture
def orthanc():
    client, made = OrthancClient(), []
    yield client, made
    for uid in made:
        for item in client.lookup(uid):
            if item.get("Type") == "Study":
                with contextlib.suppress(ExternalNotFound):
                    client.delete_study(item["ID"])


@pytest.fixture
def demo_dir(tmp_path, orthanc):
    """A generator's output in small: one three-slice study of a cached patient, marked for sign-off."""
    patient = make_patient()
    datasets = series_instances(3, description="AX T1", patient_id=patient.mrn)
    study_uid = datasets[0].StudyInstanceUID
    orthanc[1].append(study_uid)
    names = []
    for index, dataset in enumerate(datasets):
        dataset.StudyDate = "20260602"
        names.append(f"study/IM{index:04d}.dcm")
        (tmp_path / "study").mkdir(exist_ok=True)
        (tmp_path / names[-1]).write_bytes(to_bytes(dataset))
    study = {"mrn": patient.mrn, "study_date": "2026-06-02", "study_instance_uid": study_uid,
             "series_instance_uid": datasets[0].SeriesInstanceUID, "instances": 3, "lesion_ml": 1.0,
             "sign_off": True, "files": names}  # fmt: skip
    (tmp_path / "manifest.json").write_text(json.dumps({"version": 1, "studies": [study], "expression": []}))
    return tmp_path, study_uid


def _orthanc_id(client, uid):
    return next((item["ID"] for item in client.lookup(uid) if item.get("Type") == "Study"), None)


def test_a_study_the_database_holds_is_stored_again_when_orthanc_lacks_it(demo_dir, orthanc, make_user):
    directory, uid = demo_dir
    client = orthanc[0]
    reviewer = make_user("RIB", "RADIOLOGIST", username=demo.REVIEWER)
    make_user("DOCTOR", username=demo.REQUESTER)
    lines = []

    first = demo.seed(directory, analyse=False, say=lines.append)
    study = Study.objects.get(study_instance_uid=uid)
    assert (first.stored, study.status, study.number_of_instances, study.source) == (1, "LINKED", 3, "upload")
    assert str(study.study_date) == "2026-06-02"
    assert AuditEvent.objects.filter(resource_type="radiology_study", resource_id=str(study.pk),
                                     actor_id=reviewer.pk).exists()  # fmt: skip
    assert any("stored in Orthanc (3 new" in line for line in lines)

    again = demo.seed(directory, analyse=False, say=lines.append)
    assert (again.stored, again.recorded) == (0, 0)  # nothing added

    # A fresh PACS beside a database that remembers the study (a shared database, a new checkout):
    client.delete_study(_orthanc_id(client, uid))
    restored = demo.seed(directory, analyse=False, say=lines.append)
    assert (restored.stored, restored.recorded) == (1, 0)
    assert _orthanc_id(client, uid) == study.orthanc_id
    assert list(Study.objects.filter(study_instance_uid=uid).values_list("pk", flat=True)) == [study.pk]

    # Orthanc holds it, this database does not: recorded without storing.
    Study.objects.filter(pk=study.pk).delete()
    recorded = demo.seed(directory, analyse=False, say=lines.append)
    assert (recorded.stored, recorded.recorded) == (0, 1)
    assert Study.objects.get(study_instance_uid=uid).status == Study.Status.LINKED


def test_a_study_missing_one_of_its_series_in_orthanc_is_stored_again(demo_dir, make_user):
    """The one-series demo (VERSION 1) in Orthanc, then the manifest of the four-series exam: the T1 is there,
    the other sequences are not, so the study's files are stored again (the T1's as already stored)."""
    directory, uid = demo_dir
    make_user("RIB", "RADIOLOGIST", username=demo.REVIEWER)
    make_user("DOCTOR", username=demo.REQUESTER)
    quiet = {"analyse": False, "say": lambda line: None}
    assert demo.seed(directory, **quiet).stored == 1

    manifest = json.loads((directory / "manifest.json").read_text())
    [study] = manifest["studies"]
    flair = series_instances(2, description="FLAIR AX", patient_id=study["mrn"], study_uid=uid, series_number=4)
    for index, dataset in enumerate(flair):
        dataset.StudyDate = "20260602"
        study["files"].append(f"study/FLAIR{index:04d}.dcm")
        (directory / study["files"][-1]).write_bytes(to_bytes(dataset))
    study["series"] = [{"series_instance_uid": study["series_instance_uid"], "instances": 3},
                       {"series_instance_uid": flair[0].SeriesInstanceUID, "instances": 2}]  # fmt: skip
    study["instances"] = 5
    (directory / "manifest.json").write_text(json.dumps(manifest))

    assert demo.seed(directory, **quiet).stored == 1
    assert Study.objects.get(study_instance_uid=uid).number_of_instances == 5
    assert demo.seed(directory, **quiet).stored == 0  # whole now


def test_analysis_requested_once_signed_off_and_requested_again_when_its_artifacts_are_gone(demo_dir, make_user):
    directory, uid = demo_dir
    reviewer = make_user("RIB", "RADIOLOGIST", username=demo.REVIEWER)
    doctor = make_user("DOCTOR", username=demo.REQUESTER)

    first = demo.seed(directory, wait_seconds=0, say=lambda line: None)
    [job] = AIJob.objects.filter(study__study_instance_uid=uid)
    assert (first.submitted, job.status, job.model_name, job.requested_by) == (1, "QUEUED", demo.SEGMENTATION_MODEL,
                                                                               doctor)  # fmt: skip
    assert first.pending == [str(job.pk)]
    assert demo.seed(directory, wait_seconds=0, say=lambda line: None).submitted == 0  # still queued: no second

    complete(job, orthanc={})  # the ai-server's result, its artifacts in the object store
    for name, key in ((item["name"], item["key"]) for item in job.result.artifacts):
        put_artifact(key, b"{}" if name == "result" else b"DICM", "application/octet-stream")
    signed = demo.seed(directory, wait_seconds=5, say=lambda line: None)
    result = AIResult.objects.get(job=job)
    assert (signed.submitted, signed.signed_off, result.status, result.reviewed_by) == (0, 1, "FINAL", reviewer)
    assert AuditEvent.objects.filter(action=Action.UPDATE, resource_type="ai_result", resource_id=str(result.pk),
                                     actor_id=reviewer.pk).exists()  # fmt: skip
    assert demo.seed(directory, wait_seconds=0, say=lambda line: None).signed_off == 0  # FINAL stays as it is

    # An object store that lost the artifacts (moto restarted, another checkout's store): analysed again.
    admin = storage_client(admin=True)
    for item in result.artifacts:
        admin.remove_object(settings.S3_BUCKETS["artifacts"], item["key"])
    redo = demo.seed(directory, wait_seconds=0, say=lambda line: None)
    assert redo.submitted == 1
    assert AIJob.objects.filter(study__study_instance_uid=uid).count() == 2


def _artifacts_present(job: AIJob) -> None:
    for name, key in ((item["name"], item["key"]) for item in job.result.artifacts):
        put_artifact(key, b"{}" if name == "result" else b"DICM", "application/octet-stream")


def _artifacts_lost(result: AIResult) -> None:
    admin = storage_client(admin=True)
    for item in result.artifacts:
        admin.remove_object(settings.S3_BUCKETS["artifacts"], item["key"])


@pytest.mark.parametrize("sign_off", [False, True])
def test_seeding_again_after_the_store_lost_the_artifacts_keeps_one_result_per_study(
    demo_dir, make_user, sign_off, token_client
):
    """What `make run` twice over an object store restarted empty did: 28 PRELIMINARY results on the
    worklist. Now the earlier demo result is superseded by the new analysis, whichever its status."""
    directory, uid = demo_dir
    manifest = json.loads((directory / "manifest.json").read_text())
    manifest["studies"][0]["sign_off"] = sign_off
    (directory / "manifest.json").write_text(json.dumps(manifest))
    make_user("RIB", "RADIOLOGIST", username=demo.REVIEWER)
    doctor = make_user("DOCTOR", username=demo.REQUESTER)
    quiet = {"wait_seconds": 0, "say": lambda line: None}
    own = AIJob.objects.filter(study__study_instance_uid=uid)

    demo.seed(directory, **quiet)
    [first] = own
    _artifacts_present(complete(first, orthanc={}))
    demo.seed(directory, **quiet)  # signs it off when the manifest says so
    user_job = complete(make_job(token_client("RIB").user, study=first.study))  # not the demo's: left alone

    results_per_round = []
    for _ in range(2):  # twice: the store restarts empty, make run analyses again
        latest = own.filter(requested_by=doctor).order_by("-created_at").first()
        _artifacts_lost(latest.result)
        again = demo.seed(directory, **quiet)
        assert (again.submitted, again.superseded) == (1, 1)
        newest = own.filter(requested_by=doctor).order_by("-created_at").first()
        _artifacts_present(complete(newest, orthanc={}))
        settled = demo.seed(directory, **quiet)
        assert (settled.submitted, settled.superseded, settled.signed_off) == (0, 0, int(sign_off))
        current = AIResult.objects.filter(job__study__study_instance_uid=uid, job__requested_by=doctor).current()
        results_per_round.append(list(current.values_list("job_id", flat=True)))
        assert results_per_round[-1] == [newest.pk]

    demo_results = AIResult.objects.filter(job__study__study_instance_uid=uid, job__requested_by=doctor)
    assert demo_results.count() == 3 and demo_results.current().count() == 1
    assert AIResult.objects.signed().filter(job__requested_by=doctor).count() == int(sign_off)
    waiting = AIResult.objects.awaiting_sign_off().filter(job__study__study_instance_uid=uid)
    assert sorted(waiting.values_list("job_id", flat=True)) == sorted(
        [user_job.pk] + ([] if sign_off else [results_per_round[-1][0]])
    )
    superseded = AuditEvent.objects.filter(action=Action.UPDATE, resource_type="ai_result",
                                           detail__has_key="superseded_by")  # fmt: skip
    assert superseded.count() == 2
    old = demo_results.exclude(superseded_by=None).order_by("created_at").first()
    with pytest.raises(InvalidTransition):
        services.result_review(actor=get_user_model().objects.get(username=demo.REVIEWER), result=old,
                               decision="reject", comment="late")  # fmt: skip


def test_command_refuses_a_directory_without_manifest(tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match=r"no manifest\.json"):
        call_command("seed_demo_imaging", str(tmp_path))
