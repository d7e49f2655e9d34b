"""The threaded store path (RADIOLOGY_UPLOAD_CONCURRENCY > 1): other threads use their own database
connections, so this test commits for real (transactional) instead of running inside one transaction."""

import pytest

from audit.chain import verify_chain
from audit.models import Action, AuditEvent
from radiology.models import Study
from radiology.testing import series_instances
from radiology.tests.conftest import as_upload, upload

pytestmark = pytest.mark.django_db(transaction=True)


def test_files_stored_by_several_threads_are_each_reported_audited_and_recorded_once(rib, pacs, settings):
    settings.RADIOLOGY_UPLOAD_CONCURRENCY = 4
    datasets = series_instances(12, description="AX T2 threaded")
    pacs.track(datasets[0].StudyInstanceUID)
    bad = as_upload(datasets[0], name="broken.dcm")
    bad.file.truncate(200)

    response = upload(rib, *(as_upload(ds) for ds in datasets), bad)

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["counts"] == {"stored": 12, "already_stored": 0, "rejected": 1}
    # results keep the order of the request, whichever thread stored each file
    assert [r["file"] for r in body["results"]] == [f"{ds.SOPInstanceUID}.dcm" for ds in datasets] + ["broken.dcm"]
    study = Study.objects.get(study_instance_uid=datasets[0].StudyInstanceUID)
    assert study.number_of_instances == 12
    assert AuditEvent.objects.filter(action=Action.EXTERNAL_CALL, endpoint="POST /instances").count() == 12
    assert verify_chain().intact
