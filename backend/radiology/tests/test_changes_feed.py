"""A study sent by a modality straight to Orthanc (C-STORE, pynetdicom) appears in the CDSS through the
change-feed import (the beat task), within Orthanc's StableAge."""

import time

import pytest
from pynetdicom import AE
from pynetdicom.sop_class import MRImageStorage

from radiology.models import FeedCheckpoint, Study
from radiology.services import changes_checkpoint_set
from radiology.tasks import import_changes
from radiology.tests.dicom_files import series_instances

pytestmark = pytest.mark.django_db
STABLE_WAIT_SECONDS = 40  # Orthanc runs with StableAge 10 s


def _c_store(datasets) -> None:
    ae = AE(ae_title="CDSS-MODALITY")
    ae.add_requested_context(MRImageStorage, ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"])
    association = ae.associate("127.0.0.1", 4242, ae_title="ORTHANC")
    assert association.is_established
    try:
        for dataset in datasets:
            status = association.send_c_store(dataset)
            assert status.Status == 0x0000
    finally:
        association.release()


def test_c_store_study_is_imported_from_the_changes_feed(pacs, make_patient):
    patient = make_patient()
    last = pacs.client.http.request("GET", "/changes?last", resource_type="changes").json()["Last"]
    changes_checkpoint_set(last_seq=last)
    datasets = series_instances(3, description="AX FLAIR", patient_id=patient.mrn)
    uid = datasets[0].StudyInstanceUID
    pacs.track(uid)

    _c_store(datasets)

    deadline = time.monotonic() + STABLE_WAIT_SECONDS
    while not Study.objects.filter(study_instance_uid=uid).exists() and time.monotonic() < deadline:
        time.sleep(1)
        import_changes()
    study = Study.objects.get(study_instance_uid=uid)
    assert (study.source, study.patient, study.number_of_instances) == ("pacs", patient, 3)
    assert study.series.get().sequence_type == "FLAIR"
    assert FeedCheckpoint.objects.get(name="orthanc").last_seq > last
    assert import_changes() == 0  # nothing new: the checkpoint moved past it
