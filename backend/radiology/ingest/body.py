"""The request's body: kept unread until the view has checked the role, then parsed part by part, each
part handed to the ingest (radiology.ingest.store) as soon as it is complete."""

import functools
from collections.abc import Callable

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload, TemporaryFileUploadHandler
from django.http import QueryDict
from django.http.multipartparser import MultiPartParser, MultiPartParserError
from django.utils.datastructures import MultiValueDict

from .store import UploadOutcome, dicom_ingest


def streaming(view):
    """For the upload URL: the body is read by the view only (after the role check), never before."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        request.upload_handlers = [BodyUnread(request)]
        return view(request, *args, **kwargs)

    return wrapped


class BodyUnread(FileUploadHandler):
    """Answers every read of the form before the view with an empty form, leaving the body unread."""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        return QueryDict(), MultiValueDict()

    def receive_data_chunk(self, raw_data, start):  # never called: handle_raw_input answers first
        return raw_data

    def file_complete(self, file_size):
        return None


def receive(*, meta, stream, actor) -> UploadOutcome:
    """Parse the multipart body from `stream` into the ingest; every part is checked and stored as it
    arrives. Returns the outcome once every store has finished and every study touched is recorded."""
    with dicom_ingest(actor=actor) as ingest:
        handler = DicomUploadHandler(sink=ingest.add)
        files = MultiValueDict()
        try:
            if stream is not None:
                _, files = MultiPartParser(meta, stream, [handler], settings.DEFAULT_CHARSET).parse()
        except MultiPartParserError as exc:
            ingest.outcome.malformed = str(exc)[:300]
        outcome = ingest.outcome
        outcome.parts, outcome.too_large = handler.parts, handler.request_too_large
        if handler.too_many_files:
            ingest.reject(
                "(the rest of the request)",
                "too_many_files",
                f"more than RADIOLOGY_UPLOAD_MAX_FILES ({settings.RADIOLOGY_UPLOAD_MAX_FILES}) files: not read",
            )
    for _, parts in files.lists():  # the stores are done: the temporary files can go
        for part in parts:
            part.close()
    return outcome


class DicomUploadHandler(TemporaryFileUploadHandler):
    """Every part to a temporary file. A part over the per-file limit stops being written (it is reported
    as rejected); a body over the request limit, or one part more than the file limit, stops the upload.

    Each completed part goes to `sink` (the ingest) at once, while the rest of the body is still arriving."""

    chunk_size = 1024 * 1024  # Django's 64 KiB means 16 Python-level parser rounds per 1 MB of DICOM

    def __init__(self, sink: Callable[[UploadedFile], None]):
        super().__init__()
        self.sink = sink
        self.parts = 0
        self.request_too_large = False
        self.too_many_files = False
        self._received = 0
        self._part_too_large = False

    def new_file(self, *args, **kwargs):
        self.parts += 1
        if self.parts > settings.RADIOLOGY_UPLOAD_MAX_FILES:
            self.too_many_files = True
            raise StopUpload(connection_reset=True)
        self._part_too_large = False
        super().new_file(*args, **kwargs)

    def receive_data_chunk(self, raw_data, start):
        self._received += len(raw_data)
        if self._received > settings.RADIOLOGY_UPLOAD_MAX_REQUEST_BYTES:
            self.request_too_large = True
            raise StopUpload(connection_reset=True)
        if self._part_too_large or start + len(raw_data) > settings.RADIOLOGY_UPLOAD_MAX_FILE_BYTES:
            if not self._part_too_large:
                self.file.truncate(0)
            self._part_too_large = True
            return None
        self.file.write(raw_data)
        return None

    def file_complete(self, file_size):
        uploaded = super().file_complete(file_size)
        uploaded.too_large = self._part_too_large
        self.sink(uploaded)
        return uploaded
