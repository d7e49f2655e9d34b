"""What the CDSS checks in a DICOM file before it goes to the PACS, and how a series is recognised.

Checks are cheap on purpose (they run for every uploaded instance): the DICM preamble, a readable
header, the UIDs every instance needs, and pixel data that can be decoded: uncompressed pixel data must
have the length its image module promises and the file must hold all of it (this catches truncated
files; the bytes are not read), encapsulated pixel data must split into its frames.
"""

import io
import re
from dataclasses import dataclass
from typing import BinaryIO

import pydicom
from pydicom.encaps import generate_frames
from pydicom.errors import InvalidDicomError

REQUIRED_UIDS = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")
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


def inspect(handle: BinaryIO) -> DicomInfo:
    """Validate one file (positioned anywhere); raise Rejected with the reason when it is not acceptable."""
    handle.seek(0)
    head = handle.read(PREAMBLE_LENGTH + 4)
    if not head:
        raise Rejected("empty file")
    if len(head) < PREAMBLE_LENGTH + 4 or head[PREAMBLE_LENGTH:] != b"DICM":
        raise Rejected("not a DICOM file: no DICM preamble")
    handle.seek(0)
    try:
        dataset = pydicom.dcmread(handle, defer_size=DEFER_BYTES)
    except (InvalidDicomError, EOFError, ValueError, KeyError, TypeError, OSError) as exc:
        raise Rejected(f"unreadable DICOM header: {exc}"[:300]) from exc
    except Exception as exc:  # pydicom raises many types on corrupt input; every one is the file's fault
        raise Rejected(f"unreadable DICOM: {exc.__class__.__name__}: {exc}"[:300]) from exc
    missing = [name for name in REQUIRED_UIDS if not str(dataset.get(name, "") or "").strip()]
    if missing:
        raise Rejected(f"missing required attribute(s): {', '.join(missing)}")
    if "PixelData" in dataset:
        _check_pixel_data(dataset, handle)
    return DicomInfo(
        sop_instance_uid=str(dataset.SOPInstanceUID),
        study_instance_uid=str(dataset.StudyInstanceUID),
        series_instance_uid=str(dataset.SeriesInstanceUID),
        patient_id=str(dataset.get("PatientID", "") or ""),
    )


def _check_pixel_data(dataset: pydicom.Dataset, handle: BinaryIO) -> None:
    try:
        rows, columns = int(dataset.Rows), int(dataset.Columns)
        bits, samples = int(dataset.BitsAllocated), int(dataset.get("SamplesPerPixel", 1) or 1)
        frames = int(dataset.get("NumberOfFrames", 1) or 1)
    except (AttributeError, TypeError, ValueError) as exc:
        raise Rejected(f"pixel data without a usable image description: {exc}"[:300]) from exc
    transfer_syntax = dataset.file_meta.get("TransferSyntaxUID")
    if transfer_syntax is not None and transfer_syntax.is_encapsulated:
        try:
            found = sum(1 for _ in generate_frames(dataset.PixelData, number_of_frames=frames))
        except Exception as exc:
            raise Rejected(f"encapsulated pixel data cannot be split into frames: {exc}"[:300]) from exc
        if found < frames:
            raise Rejected(f"pixel data holds {found} of {frames} frames")
        return
    expected = rows * columns * samples * frames * bits // 8
    element = dataset.get_item("PixelData")
    if element.value is None:  # deferred: the bytes present are what the file holds after its offset
        present = min(element.length, handle.seek(0, io.SEEK_END) - element.value_tell)
    else:
        present = len(element.value)
    if present < expected:
        raise Rejected(f"pixel data truncated: {present} of {expected} bytes")


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
