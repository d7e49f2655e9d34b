"""A study sent by a modality straight to Orthanc (C-STORE, pynetdicom) appears in the CDSS through the
change-feed import (the beat task), within Orthanc's StableAge."""

import time

import pytest
from pynetdicom import AE
from pynetdicom.sop_class import MRImageStorage

from radiology.models import FeedCheckpoint, Study
from radiology.services import changes_checkpoint_set
from radiology.tasks import import_changes
from radiology.testing import series_instances

pytestmark = pytest.mark.django_db
STABLE_WAIT_SECONDS = 40  # Orthanc runs with StableAge 10 s


def _associate(calling: str):
    ae = AE(ae_title=calling)
    ae.add_requested_context(MRImageStorage, ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"])
    return ae.associate("127.0.0.1", 4242, ae_title="ORTHANC")


def _c_store(datasets) -> None:
    association = _associate("CDSS-MODALITY")  # the modality scripts/services.sh configures for tests
    assert association.is_established
    try:
        for dataset in datasets:
            status = association.send_c_store(dataset)
            assert status.Status == 0x0000
    finally:
        association.release()


def _import_until_recorded(uid: str) -> None:
    """Run the beat's import until the study has a row (Orthanc calls it stable after StableAge)."""
    deadline = time.monotonic() + STABLE_WAIT_SECONDS
    while not Study.objects.filter(study_instance_uid=uid).exists() and time.monotonic() < deadline:
        time.sleep(1)
        import_changes()


def test_c_store_study_is_imported_from_the_changes_feed(pacs, make_patient):
    patient = make_patient()
    last = pacs.client.http.request("GET", "/changes?last", resource_type="changes").json()["Last"]
    changes_checkpoint_set(last_seq=last)
    datasets = series_instances(3, description="AX FLAIR", patient_id=patient.mrn)
    uid = datasets[0].StudyInstanceUID
    pacs.track(uid)

    _c_store(datasets)
    _import_until_recorded(uid)
    study = Study.objects.get(study_instance_uid=uid)
    assert (study.source, study.patient, study.number_of_instances) == ("pacs", patient, 3)
    assert study.series.get().sequence_type == "FLAIR"
    assert FeedCheckpoint.objects.get(name="orthanc").last_seq > last
    assert import_changes() == 0  # nothing new: the checkpoint moved past it


def test_a_modality_orthanc_does_not_know_cannot_store(pacs):
    """Orthanc takes C-STORE only from the AEs in its DicomModalities (ORTHANC_MODALITIES)."""
    datasets = series_instances(1, description="AX T1", patient_id="ROGUE-1")
    pacs.track(datasets[0].StudyInstanceUID)
    association = _associate("ROGUE-MODALITY")
    if association.is_established:  # accepted for negotiation only: the store itself must be refused
        try:
            status = association.send_c_store(datasets[0])
            assert status and status.Status != 0x0000
        finally:
            association.release()
    found = pacs.client.http.request(
        "POST", "/tools/lookup", data=datasets[0].StudyInstanceUID, resource_type="lookup"
    ).json()
    assert found == [], "Orthanc stored a file from an unknown modality"


def test_a_checkpoint_beyond_orthancs_change_log_reads_it_again_from_the_start(pacs, make_patient):
    # another Orthanc (a restored one, or another checkout's beside a shared database) moved the checkpoint
    # past every change number this Orthanc has: its studies must still arrive
    patient = make_patient()
    last = pacs.client.http.request("GET", "/changes?last", resource_type="changes").json()["Last"]
    changes_checkpoint_set(last_seq=last + 1_000_000)
    datasets = series_instances(2, description="AX T1", patient_id=patient.mrn)
    uid = datasets[0].StudyInstanceUID
    pacs.track(uid)

    _c_store(datasets)
    _import_until_recorded(uid)
    assert Study.objects.get(study_instance_uid=uid).number_of_instances == 2
    assert last < FeedCheckpoint.objects.get(name="orthanc").last_seq < last + 1_000_000
