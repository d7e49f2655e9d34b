"""Property: whatever a DICOM header says, the upload answers without a 5xx, and every instance that
Orthanc holds afterwards for the files sent belongs to a study the CDSS recorded; every other file was
reported rejected. Headers are mutated by hypothesis (UIDs, identity, image description, pixel data),
a few examples reuse an earlier StudyInstanceUID under another PatientID (a conflict).

The number of cases run and their outcomes are printed at the end of the session (conftest)."""

import collections
import io

import pydicom
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from radiology.models import Study
from radiology.testing import fresh_instance, to_bytes
from radiology.tests.conftest import upload

pytestmark = pytest.mark.django_db
EXAMPLES = 50  # under a minute on two shared cores
OUTCOMES: collections.Counter = collections.Counter()  # read by conftest's terminal summary
STORED: list[str] = []  # StudyInstanceUIDs stored so far: later examples may reuse one (a conflict)

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=80)
_uid = st.one_of(
    st.from_regex(r"\A[0-9.]{0,80}\Z"),  # digits and dots in any arrangement: valid or not, any length
    st.just("1.2." + "9" * 61),  # 65 characters
    _text,
)
_number = st.one_of(st.integers(-(2**40), 2**40), st.none())
MUTATIONS = {
    "StudyInstanceUID": _uid,
    "SeriesInstanceUID": _uid,
    "SOPInstanceUID": _uid,
    "SOPClassUID": _uid,
    "PatientID": _text,
    "IssuerOfPatientID": _text,
    "PatientName": st.one_of(_text, st.text(max_size=300)),
    "PatientBirthDate": st.one_of(_text, st.from_regex(r"\A[0-9]{8}\Z")),
    "PatientSex": _text,
    "AccessionNumber": _text,
    "StudyDate": _text,
    "StudyDescription": st.text(max_size=400),
    "SeriesDescription": _text,
    "SeriesNumber": _number,
    "Modality": _text,
    "Rows": _number,
    "Columns": _number,
    "BitsAllocated": _number,
    "SamplesPerPixel": _number,
    "NumberOfFrames": _number,
    "PixelData": st.one_of(st.binary(max_size=64), st.just(b"")),
}
mutations = st.dictionaries(st.sampled_from(sorted(MUTATIONS)), st.none(), min_size=1, max_size=4).flatmap(
    lambda chosen: st.fixed_dictionaries({name: st.one_of(st.just("<deleted>"), MUTATIONS[name]) for name in chosen})
)


def _mutated(changes: dict) -> bytes | None:
    dataset = fresh_instance()
    dataset.SpecificCharacterSet = "ISO_IR 192"  # any text can be written
    for name, value in changes.items():
        if value == "<deleted>":
            if name in dataset:
                delattr(dataset, name)
            continue
        try:
            setattr(dataset, name, "" if value is None else value)
        except (ValueError, TypeError, OverflowError):
            return None  # pydicom will not hold it: no file to send
    try:
        return to_bytes(dataset)
    except Exception:  # pydicom cannot write it: no file to send
        return None


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # no example database in the checkout
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(changes=mutations, conflict=st.booleans())
def test_mutated_headers_never_5xx_nor_leave_an_unrecorded_instance(rib, pacs, changes, conflict):
    if conflict and STORED and "StudyInstanceUID" not in changes:
        changes = {**changes, "StudyInstanceUID": STORED[-1], "PatientID": f"PROPERTY-{len(STORED)}"}
    data = _mutated(changes)
    if data is None:
        OUTCOMES["not writable by pydicom (not sent)"] += 1
        return
    header = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, force=True)
    study_uid = str(header.get("StudyInstanceUID", "") or "")
    sop_uid = str(header.get("SOPInstanceUID", "") or "")
    if study_uid:
        pacs.track(study_uid)

    response = upload(rib, SimpleUploadedFile("mutated.dcm", data, "application/dicom"))

    assert response.status_code < 500, (changes, response.content[:500])
    [result] = response.json()["results"]
    OUTCOMES["cases"] += 1
    OUTCOMES[f"{response.status_code} {result['status']} {result.get('code', '')}".strip()] += 1
    in_orthanc = [item for item in pacs.client.lookup(sop_uid) if item.get("Type") == "Instance"] if sop_uid else []
    for item in in_orthanc:
        parent = pacs.client.http.request("GET", f"/instances/{item['ID']}/study", resource_type="test").json()
        assert Study.objects.filter(orthanc_id=parent["ID"]).exists(), (changes, result)
    if result["status"] == "rejected":
        assert result["reason"]
    else:
        assert in_orthanc, (changes, result)
        STORED.append(study_uid)
        OUTCOMES.update(f"study {study['status']}" for study in response.json()["studies"])
