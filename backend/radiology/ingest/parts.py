"""Uploaded parts into items: `iter_items` turns each part (a file on disk) into (name, file) items or
per-item rejections; zip archives are opened from disk (their member count bounded first) and their
members copied out one at a time with hard limits."""

import re
import struct
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO

from django.conf import settings
from django.utils.translation import gettext as _

ZIP_MAGIC = b"PK\x03\x04"
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tgz", ".gz", ".bz2", ".xz", ".7z", ".rar", ".jar")
ARCHIVE_MAGICS = (ZIP_MAGIC, b"PK\x05\x06", b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"7z\xbc\xaf", b"Rar!")
COPY_CHUNK = 1024 * 1024
EOCD_SEARCH = 22 + 65535 + 76  # end record, its longest comment, the zip64 record and locator before it
NAME_MAX = 255  # file names in the answer (a member's name may be 64 KiB)


@dataclass
class Item:
    name: str
    handle: BinaryIO | None = None
    code: str = ""  # set when rejected before any DICOM check
    reason: str = ""
    owned: bool = False  # a temporary file of ours (a zip member) that the consumer closes


def _unsafe(name: str) -> bool:
    normalised = name.replace("\\", "/")
    return (
        normalised.startswith("/")
        or bool(re.match(r"^[A-Za-z]:", normalised))
        or (".." in PurePosixPath(normalised).parts)
    )


def _is_archive(name: str, head: bytes) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES) or head.startswith(ARCHIVE_MAGICS)


class Budget:
    """Counts items and bytes across one request (parts and zip members together)."""

    def __init__(self):
        self.items = 0
        self.bytes = 0


def iter_items(parts, budget: Budget) -> Iterator[Item]:
    max_file = settings.RADIOLOGY_UPLOAD_MAX_FILE_BYTES
    for part in parts:
        name = (part.name or "unnamed")[:NAME_MAX]
        if getattr(part, "too_large", False):
            reason = _("larger than the per-file limit of %(limit)s bytes") % {"limit": max_file}
            yield Item(name, code="too_large", reason=reason)
            continue
        part.seek(0)
        head = part.read(4)
        part.seek(0)
        if head == ZIP_MAGIC or name.lower().endswith(".zip"):
            yield from _zip_items(name, part, budget)
            continue
        budget.items += 1
        yield Item(name, handle=part)


def declared_members(handle: BinaryIO) -> int | None:
    """How many members a zip's end-of-central-directory record declares (zip64 too), read from its last
    bytes only; None when there is no such record (zipfile then refuses the archive)."""
    size = handle.seek(0, 2)
    handle.seek(max(0, size - EOCD_SEARCH))
    tail = handle.read()
    handle.seek(0)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return None
    count = struct.unpack_from("<H", tail, at + 10)[0]
    zip64 = tail.rfind(b"PK\x06\x06", 0, at)
    if count == 0xFFFF and zip64 >= 0 and len(tail) - zip64 >= 40:
        count = struct.unpack_from("<Q", tail, zip64 + 32)[0]
    return count


def _zip_items(archive_name: str, part, budget: Budget) -> Iterator[Item]:
    limits = settings
    # Bounded before zipfile reads the central directory (one object per member, all in memory) and before
    # the answer grows by one result per member: an archive over the limit is one rejection.
    room = limits.RADIOLOGY_UPLOAD_MAX_FILES - budget.items
    declared = declared_members(part)
    if declared is not None and declared > room:
        yield Item(
            archive_name,
            code="too_many_files",
            reason=_(
                "the archive declares %(declared)s members; at most %(room)s more files fit "
                "RADIOLOGY_UPLOAD_MAX_FILES (%(limit)s): not read"
            )
            % {"declared": declared, "room": room, "limit": limits.RADIOLOGY_UPLOAD_MAX_FILES},
        )
        return
    try:
        archive = zipfile.ZipFile(part)
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        yield Item(archive_name, code="bad_zip", reason=(_("unreadable zip archive: %(error)s") % {"error": exc})[:300])
        return
    with archive:
        for info in members:
            name = f"{archive_name}/{info.filename}"[:NAME_MAX]
            if info.is_dir():
                continue
            if _unsafe(info.filename):
                yield Item(name, code="unsafe_name", reason=_("absolute path or '..' in the name: ignored"))
                continue
            budget.items += 1
            if budget.items > limits.RADIOLOGY_UPLOAD_MAX_FILES:
                yield Item(name, code="too_many_files", reason=_("more files than RADIOLOGY_UPLOAD_MAX_FILES"))
                continue
            if info.file_size > limits.RADIOLOGY_UPLOAD_MAX_FILE_BYTES:
                yield Item(name, code="too_large", reason=_("larger than the per-file limit when uncompressed"))
                continue
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > limits.RADIOLOGY_ZIP_MAX_RATIO:
                yield Item(
                    name,
                    code="zip_bomb",
                    reason=_("compression ratio %(ratio).0f:1 over the limit of %(limit)s:1")
                    % {"ratio": ratio, "limit": limits.RADIOLOGY_ZIP_MAX_RATIO},
                )
                continue
            budget.bytes += info.file_size
            if budget.bytes > limits.RADIOLOGY_UPLOAD_MAX_REQUEST_BYTES:
                yield Item(name, code="too_large", reason=_("the archive expands beyond the per-request limit"))
                continue
            try:
                handle = _extract(archive, info, limits.RADIOLOGY_UPLOAD_MAX_FILE_BYTES)
            except _TooLarge:
                yield Item(name, code="zip_bomb", reason=_("expands beyond its declared size"))
                continue
            except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
                yield Item(name, code="bad_zip", reason=(_("cannot be extracted: %(error)s") % {"error": exc})[:300])
                continue
            head = handle.read(4)
            handle.seek(0)
            if _is_archive(info.filename, head):
                handle.close()
                yield Item(name, code="nested_archive", reason=_("archives inside archives are not accepted"))
                continue
            yield Item(name, handle=handle, owned=True)


class _TooLarge(Exception):
    pass


def _extract(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> BinaryIO:
    """Copy a member to a temporary file, never more than its declared size (nor `limit`)."""
    allowed = min(info.file_size, limit)
    target = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the caller after use
    written = 0
    with archive.open(info) as source:
        while chunk := source.read(COPY_CHUNK):
            written += len(chunk)
            if written > allowed:
                target.close()
                raise _TooLarge
            target.write(chunk)
    target.seek(0)
    return target
