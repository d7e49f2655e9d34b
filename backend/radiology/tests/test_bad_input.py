"""The bad-input corpus: each item gets a 4xx with a reason per file; nothing reaches Orthanc or the
database; never a 5xx."""

import io
import struct
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from pydicom.data import get_testdata_file

from radiology.models import Study
from radiology.testing import fresh_instance, series_instances, to_bytes
from radiology.tests.conftest import upload

pytestmark = pytest.mark.django_db


def _zip(*members: tuple[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def _png() -> bytes:
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b"")
    )


@pytest.fixture
def orthanc_before(pacs):
    """The id of the newest audit event before the request: every call to Orthanc is audited, so no
    `POST /instances` event after it means nothing was sent to be stored (Orthanc itself is shared with
    other test runs, so its instance count cannot tell)."""
    from audit.models import AuditEvent

    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def _rejected(response, expected_status: int, code: str | None = None) -> list[dict]:
    assert response.status_code == expected_status, response.content[:500]
    body = response.json()
    assert body["status"] == expected_status and body["detail"]
    results = body.get("results", [])
    for result in results:
        assert result["status"] == "rejected" and result["reason"]
    if code:
        assert code in {result["code"] for result in results}, results
    assert not Study.objects.exists()
    return results


def _nothing_stored(pacs, before: int, *study_uids: str) -> None:
    from audit.models import Action, AuditEvent

    for uid in study_uids:
        assert pacs.study_id(uid) is None
    sent = AuditEvent.objects.filter(id__gt=before, action=Action.EXTERNAL_CALL, endpoint="POST /instances")
    assert not sent.exists()


def test_truncated_file(rib, pacs, orthanc_before):
    with open(get_testdata_file("MR_truncated.dcm"), "rb") as handle:
        data = handle.read()
    results = _rejected(upload(rib, SimpleUploadedFile("MR_truncated.dcm", data)), 400, "invalid_dicom")
    assert "truncated" in results[0]["reason"]
    _nothing_stored(pacs, orthanc_before)


def test_png_renamed_dcm(rib, pacs, orthanc_before):
    results = _rejected(upload(rib, SimpleUploadedFile("scan.dcm", _png(), "application/dicom")), 400, "invalid_dicom")
    assert "DICM" in results[0]["reason"]
    _nothing_stored(pacs, orthanc_before)


def test_empty_file(rib, pacs, orthanc_before):
    results = _rejected(upload(rib, SimpleUploadedFile("empty.dcm", b"")), 400, "invalid_dicom")
    assert results[0]["reason"] == "empty file"
    _nothing_stored(pacs, orthanc_before)


def test_missing_study_instance_uid(rib, pacs, orthanc_before):
    dataset = fresh_instance()
    uid = dataset.StudyInstanceUID
    del dataset.StudyInstanceUID
    results = _rejected(upload(rib, SimpleUploadedFile("no-uid.dcm", to_bytes(dataset))), 400, "invalid_dicom")
    assert "StudyInstanceUID" in results[0]["reason"]
    _nothing_stored(pacs, orthanc_before, uid)


def test_file_over_the_size_limit(rib, pacs, orthanc_before, settings):
    settings.RADIOLOGY_UPLOAD_MAX_FILE_BYTES = 4096
    dataset = fresh_instance()
    _rejected(upload(rib, SimpleUploadedFile("big.dcm", to_bytes(dataset))), 413, "too_large")
    _nothing_stored(pacs, orthanc_before, dataset.StudyInstanceUID)


def test_request_over_the_size_limit(rib, pacs, orthanc_before, settings):
    settings.RADIOLOGY_UPLOAD_MAX_REQUEST_BYTES = 8192
    dataset = fresh_instance()
    _rejected(upload(rib, SimpleUploadedFile("big.dcm", to_bytes(dataset))), 413)
    _nothing_stored(pacs, orthanc_before, dataset.StudyInstanceUID)


def test_zip_bomb(rib, pacs, orthanc_before):
    bomb = _zip(("zeros.dcm", b"\x00" * (20 * 1024 * 1024)))
    assert len(bomb) < 100_000
    results = _rejected(upload(rib, SimpleUploadedFile("bomb.zip", bomb, "application/zip")), 400, "zip_bomb")
    assert "ratio" in results[0]["reason"]
    _nothing_stored(pacs, orthanc_before)


def test_zip_with_dotdot_and_absolute_names(rib, pacs, orthanc_before):
    first, second = series_instances(2)
    archive = _zip(("../../etc/evil.dcm", to_bytes(first)), ("/abs/evil.dcm", to_bytes(second)))
    results = _rejected(upload(rib, SimpleUploadedFile("evil.zip", archive, "application/zip")), 400, "unsafe_name")
    assert {result["code"] for result in results} == {"unsafe_name"} and len(results) == 2
    _nothing_stored(pacs, orthanc_before, first.StudyInstanceUID)


def test_nested_zip(rib, pacs, orthanc_before):
    dataset = fresh_instance()
    inner = _zip(("inner.dcm", to_bytes(dataset)))
    outer = _zip(("inner.zip", inner), ("renamed.dcm", inner))
    results = _rejected(upload(rib, SimpleUploadedFile("outer.zip", outer, "application/zip")), 400, "nested_archive")
    assert {result["code"] for result in results} == {"nested_archive"}
    _nothing_stored(pacs, orthanc_before, dataset.StudyInstanceUID)


def test_wrong_content_type(rib, pacs, orthanc_before):
    dataset = fresh_instance()
    response = rib.post("/api/radiology/uploads", to_bytes(dataset), content_type="application/dicom")
    _rejected(response, 415)
    json_body = rib.post("/api/radiology/uploads", {"files": "x"}, format="json")
    _rejected(json_body, 415)
    _nothing_stored(pacs, orthanc_before, dataset.StudyInstanceUID)


def test_no_files(rib, pacs, orthanc_before):
    response = rib.post("/api/radiology/uploads", {"note": "nothing attached"}, format="multipart")
    _rejected(response, 400)
    assert "No files" in response.json()["detail"]
    _nothing_stored(pacs, orthanc_before)


def test_garbage_zip(rib, pacs, orthanc_before):
    _rejected(upload(rib, SimpleUploadedFile("broken.zip", b"PK\x03\x04" + b"\x01" * 200)), 400, "bad_zip")
    _nothing_stored(pacs, orthanc_before)


# --- checks before the PACS: UIDs, values that fit the CDSS, pixel data ------------------------------------
@pytest.mark.parametrize(
    ("attribute", "value", "expected"),
    [
        ("StudyInstanceUID", "1.2." + "3" * 62, "a DICOM UID has at most 64"),  # 66 characters
        ("SeriesInstanceUID", "1.2.840.01.5", "not a valid DICOM UID"),  # a leading zero
        ("SOPInstanceUID", "1.2.abc", "not a valid DICOM UID"),
        ("StudyInstanceUID", "1..2", "not a valid DICOM UID"),
        ("PatientID", "P" * 65, "PatientID has 65 characters"),
        ("AccessionNumber", "A" * 17, "AccessionNumber has 17 characters"),
        ("IssuerOfPatientID", "I" * 65, "IssuerOfPatientID has 65 characters"),
    ],
)
def test_values_the_cdss_cannot_record_are_refused_before_the_pacs(rib, pacs, orthanc_before, attribute, value,
                                                                   expected):  # fmt: skip
    dataset = fresh_instance()
    uid = dataset.StudyInstanceUID
    setattr(dataset, attribute, value)
    results = _rejected(upload(rib, SimpleUploadedFile("bad.dcm", to_bytes(dataset))), 400, "invalid_dicom")
    assert expected in results[0]["reason"]
    _nothing_stored(pacs, orthanc_before, uid, dataset.StudyInstanceUID)


def test_empty_pixel_data_is_a_400_not_a_500(rib, pacs, orthanc_before):
    dataset = fresh_instance()
    dataset.PixelData = b""
    results = _rejected(upload(rib, SimpleUploadedFile("empty-pixels.dcm", to_bytes(dataset))), 400, "invalid_dicom")
    assert "pixel data truncated: 0 of 8192 bytes" in results[0]["reason"]
    _nothing_stored(pacs, orthanc_before, dataset.StudyInstanceUID)


@pytest.mark.parametrize(("attribute", "value"), [("Rows", 0), ("BitsAllocated", 12), ("SamplesPerPixel", 2)])
def test_inconsistent_image_description_is_refused(rib, pacs, orthanc_before, attribute, value):
    dataset = fresh_instance()
    setattr(dataset, attribute, value)
    results = _rejected(upload(rib, SimpleUploadedFile("odd.dcm", to_bytes(dataset))), 400, "invalid_dicom")
    assert "inconsistent image description" in results[0]["reason"]
    _nothing_stored(pacs, orthanc_before, dataset.StudyInstanceUID)


# --- a database write that fails after Orthanc stored the file: removed again, never a 500 ----------------
def _failing_record(monkeypatch, error):
    from radiology import services

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(services, "_study_recorded", fail)


def test_a_study_the_database_refuses_is_removed_from_orthanc(rib, pacs, monkeypatch):
    from django.db import DataError

    dataset = fresh_instance()
    pacs.track(dataset.StudyInstanceUID)
    _failing_record(monkeypatch, DataError("(1406, \"Data too long for column 'description'\")"))
    results = _rejected(upload(rib, SimpleUploadedFile("one.dcm", to_bytes(dataset))), 400, "not_recorded")
    assert "removed from the PACS again" in results[0]["reason"]
    assert pacs.study_id(dataset.StudyInstanceUID) is None


def test_a_database_outage_after_storing_is_a_503_and_leaves_no_orphan(rib, pacs, monkeypatch):
    from django.db import OperationalError

    dataset = fresh_instance()
    pacs.track(dataset.StudyInstanceUID)
    _failing_record(monkeypatch, OperationalError(2013, "Lost connection to server during query"))
    response = upload(rib, SimpleUploadedFile("one.dcm", to_bytes(dataset)))
    assert response.status_code == 503, response.content[:500]
    assert "database" in response.json()["detail"]
    assert pacs.study_id(dataset.StudyInstanceUID) is None
    assert not Study.objects.exists()


# --- a zip's member count, bounded before its central directory is read ------------------------------------
def test_a_zip_with_too_many_members_is_one_rejection_and_never_opened(rib, pacs, orthanc_before, settings,
                                                                       monkeypatch):  # fmt: skip
    from radiology.ingest import parts

    settings.RADIOLOGY_UPLOAD_MAX_FILES = 10
    archive = _zip(*((f"IM{n:05d}", b"x") for n in range(500)))

    def never(*args, **kwargs):
        raise AssertionError("the archive was opened")

    monkeypatch.setattr(parts.zipfile, "ZipFile", never)
    response = upload(rib, SimpleUploadedFile("many.zip", archive, "application/zip"))
    [result] = _rejected(response, 400, "too_many_files")
    assert "declares 500 members" in result["reason"] and result["file"] == "many.zip"
    _nothing_stored(pacs, orthanc_before)


def test_member_count_is_read_from_the_zip64_end_record():
    from radiology.ingest.parts import declared_members

    count = 0x10000 + 3  # past the 16-bit field: zipfile writes the zip64 end record
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for n in range(count):
            archive.writestr(f"{n}", b"")
    assert declared_members(buffer) == count
    assert declared_members(io.BytesIO(_zip(("a", b"1"), ("b", b"2")))) == 2
    assert declared_members(io.BytesIO(b"PK\x03\x04 not really a zip")) is None


def test_long_member_names_are_cut_in_the_answer(rib, pacs, orthanc_before):
    archive = _zip(("d/" + "n" * 5000 + ".zip", b"PK\x03\x04"))
    [result] = _rejected(upload(rib, SimpleUploadedFile("names.zip", archive, "application/zip")), 400)
    assert len(result["file"]) == 255
