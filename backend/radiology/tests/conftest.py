"""Fixtures of the radiology tests: users per role, EMR patients in the cache, and a PACS tracker that
deletes every study a test created in the (shared, real) Orthanc."""

import contextlib
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from core.http import ExternalNotFound
from radiology.clients.orthanc_client import OrthancClient
from radiology.testing import to_bytes


class Pacs:
    def __init__(self):
        self.client = OrthancClient()
        self.study_uids: set[str] = set()

    def track(self, *study_uids: str) -> None:
        self.study_uids.update(study_uids)

    def study_id(self, study_uid: str) -> str | None:
        found = [item["ID"] for item in self.client.lookup(study_uid) if item.get("Type") == "Study"]
        return found[0] if found else None

    def cleanup(self) -> None:
        for uid in self.study_uids:
            if study_id := self.study_id(uid):
                with contextlib.suppress(ExternalNotFound):  # deleted by the test itself
                    self.client.delete_study(study_id)


@pytest.fixture
def pacs(db):
    tracker = Pacs()
    yield tracker
    tracker.cleanup()


@pytest.fixture
def make_patient(db):
    from emr.models import Patient

    def make(mrn: str | None = None, **fields) -> Patient:
        fields = {"family_name": "Test", "given_name": "Patient", **fields}
        return Patient.objects.create(
            emr_uuid=str(uuid.uuid4()), mrn=mrn or f"MRN-{uuid.uuid4().hex[:8]}", fetched_at=timezone.now(), **fields
        )

    return make


def as_upload(dataset, name: str | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name or f"{dataset.SOPInstanceUID}.dcm", to_bytes(dataset), "application/dicom")


def upload(client, *files, **extra):
    return client.post("/api/radiology/uploads", {"files": list(files)}, format="multipart", **extra)


@pytest.fixture(autouse=True)
def _store_inline(settings):
    """Tests run inside one transaction, which other threads' connections cannot see (and whose audit chain
    lock they would wait on): store inline. test_upload_concurrent covers the threaded path."""
    settings.RADIOLOGY_UPLOAD_CONCURRENCY = 1


def pytest_terminal_summary(terminalreporter):
    """The property test's count of cases and their outcomes, for the notes."""
    from radiology.tests import test_upload_property

    if test_upload_property.OUTCOMES:
        outcomes = ", ".join(f"{name}: {n}" for name, n in sorted(test_upload_property.OUTCOMES.items()))
        terminalreporter.write_line(f"upload property test: {outcomes}")
