"""What the CDSS checks in a DICOM file before it goes to the PACS, and how a series is recognised.

Checks are cheap on purpose (they run for every uploaded instance): the DICM preamble, a readable
header, the UIDs every instance needs (valid DICOM UIDs: digits and dots, no leading zero in a component,
at most 64 characters), identity values that fit the CDSS's columns whole, and pixel data that can be
decoded: an image description that makes sense, uncompressed pixel data of the length it promises that
the file holds entirely (this catches truncated files; the bytes are not read), encapsulated pixel data
that splits into its frames. Everything refused here never reaches the PACS.
"""

import io
import re
from dataclasses import dataclass
from typing import BinaryIO

import pydicom
from django.utils.translation import gettext as _
from pydicom.dataelem import RawDataElement
from pydicom.encaps import generate_frames
from pydicom.errors import InvalidDicomError

REQUIRED_UIDS = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")
UID = re.compile(r"^(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))*$")  # PS3.5 §9.1
UID_MAX = 64
# Values the CDSS records whole (identity and matching keys) and its columns' sizes; longer ones are refused.
FIT = {"PatientID": 64, "IssuerOfPatientID": 64, "PatientName": 255, "AccessionNumber": 16}
BITS_ALLOCATED = frozenset({1, 8, 16, 32, 64})
PREAMBLE_LENGTH = 128
DEFER_BYTES = 64 * 1024  # values this large (native pixel data) stay on disk; only their length is checked


class Rejected(Exception):
    """The file is not acceptable; the message is the per-file reason the API reports."""


@dataclass(frozen=True)
class DicomInfo:
    sop_instance_uid: str
    study_instance_uid: str
    series_instance_uid: str
    patient_id: str
    issuer_of_patient_id: str = ""


def inspect(handle: BinaryIO) -> DicomInfo:
    """Validate one file (positioned anywhere); raise Rejected with the reason when it is not acceptable."""
    handle.seek(0)
    head = handle.read(PREAMBLE_LENGTH + 4)
    if not head:
        raise Rejected(_("empty file"))
    if len(head) < PREAMBLE_LENGTH + 4 or head[PREAMBLE_LENGTH:] != b"DICM":
        raise Rejected(_("not a DICOM file: no DICM preamble"))
    handle.seek(0)
    try:
        dataset = pydicom.dcmread(handle, defer_size=DEFER_BYTES)
    except (InvalidDicomError, EOFError, ValueError, KeyError, TypeError, OSError) as exc:
        raise Rejected((_("unreadable DICOM header: %(error)s") % {"error": exc})[:300]) from exc
    except Exception as exc:  # pydicom raises many types on corrupt input; every one is the file's fault
        error = f"{exc.__class__.__name__}: {exc}"
        raise Rejected((_("unreadable DICOM: %(error)s") % {"error": error})[:300]) from exc
    try:
        values = {name: _text(dataset, name) for name in (*REQUIRED_UIDS, *FIT)}
    except Exception as exc:  # a value that cannot be decoded is the file's fault too
        error = f"{exc.__class__.__name__}: {exc}"
        raise Rejected((_("unreadable DICOM value: %(error)s") % {"error": error})[:300]) from exc
    missing = [name for name in REQUIRED_UIDS if not values[name]]
    if missing:
        raise Rejected(_("missing required attribute(s): %(names)s") % {"names": ", ".join(missing)})
    for name in REQUIRED_UIDS:
        _check_uid(name, values[name])
    for name, limit in FIT.items():
        if len(values[name]) > limit:
            raise Rejected(
                _("%(name)s has %(length)s characters; the CDSS records at most %(limit)s")
                % {"name": name, "length": len(values[name]), "limit": limit}
            )
    if "PixelData" in dataset:
        _check_pixel_data(dataset, handle)
    return DicomInfo(
        sop_instance_uid=values["SOPInstanceUID"],
        study_instance_uid=values["StudyInstanceUID"],
        series_instance_uid=values["SeriesInstanceUID"],
        patient_id=values["PatientID"],
        issuer_of_patient_id=values["IssuerOfPatientID"],
    )


def _text(dataset: pydicom.Dataset, name: str) -> str:
    return str(dataset.get(name, "") or "").strip(" \x00")


def _check_uid(name: str, value: str) -> None:
    if len(value) > UID_MAX:
        raise Rejected(
            _("%(name)s has %(length)s characters; a DICOM UID has at most %(limit)s")
            % {"name": name, "length": len(value), "limit": UID_MAX}
        )
    if not UID.match(value):
        raise Rejected(
            _("%(name)s is not a valid DICOM UID (digits and dots, no leading zeros): %(value)s")
            % {"name": name, "value": repr(value[:64])}
        )


def _check_pixel_data(dataset: pydicom.Dataset, handle: BinaryIO) -> None:
    try:
        rows, columns = int(dataset.Rows), int(dataset.Columns)
        bits, samples = int(dataset.BitsAllocated), int(dataset.get("SamplesPerPixel", 1) or 1)
        frames = int(dataset.get("NumberOfFrames", 1) or 1)
    except (AttributeError, TypeError, ValueError) as exc:
        raise Rejected((_("pixel data without a usable image description: %(error)s") % {"error": exc})[:300]) from exc
    if rows <= 0 or columns <= 0 or frames <= 0 or samples not in (1, 3, 4) or bits not in BITS_ALLOCATED:
        raise Rejected(
            _(
                "inconsistent image description: %(rows)sx%(columns)s, %(frames)s frame(s), "
                "%(samples)s sample(s) per pixel, %(bits)s bits allocated"
            )
            % {"rows": rows, "columns": columns, "frames": frames, "samples": samples, "bits": bits}
        )
    transfer_syntax = dataset.file_meta.get("TransferSyntaxUID")
    if transfer_syntax is not None and transfer_syntax.is_encapsulated:
        try:
            found = sum(1 for _ in generate_frames(dataset.PixelData, number_of_frames=frames))
        except Exception as exc:
            raise Rejected(
                (_("encapsulated pixel data cannot be split into frames: %(error)s") % {"error": exc})[:300]
            ) from exc
        if found < frames:
            raise Rejected(_("pixel data holds %(found)s of %(frames)s frames") % {"found": found, "frames": frames})
        return
    expected = (rows * columns * samples * frames * bits + 7) // 8
    element = dataset.get_item("PixelData")
    if isinstance(element, RawDataElement) and element.value is None and element.length:
        # deferred: the bytes present are what the file holds after its offset
        present = min(element.length, handle.seek(0, io.SEEK_END) - element.value_tell)
    else:  # read (small), or empty: pydicom gives an empty value as None
        present = len(element.value or b"")
    if present < expected:
        raise Rejected(
            _("pixel data truncated: %(present)s of %(expected)s bytes") % {"present": present, "expected": expected}
        )


_TOKENS = re.compile(r"[a-z0-9+]+")
_CONTRAST = {"+c", "c+", "gd", "gad", "gado", "post", "contrast", "ce", "t1c", "t1ce", "t1gd", "t1+c", "t1post"}


def sequence_type(*texts: str) -> str:
    """T1, T1c, T2 or FLAIR from a series description / protocol name; "" when not recognisable."""
    text = " ".join(t for t in texts if t).lower()
    tokens = set(_TOKENS.findall(text.replace("_", " ").replace("-", " ")))
    if "flair" in text:
        return "FLAIR"
    t1 = any(token.startswith("t1") for token in tokens) or "mprage" in text or "spgr" in text
    if t1 and (tokens & _CONTRAST or "+c" in text or "+gd" in text):
        return "T1c"
    if t1:
        return "T1"
    if any(token.startswith("t2") for token in tokens):
        return "T2"
    return ""
