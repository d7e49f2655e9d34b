"""The DICOM upload, whole: the body is received, checked and stored part by part, and the answer built.
Nothing else in the CDSS takes part in it but the checks of one file (radiology.dicom) and the recording
of each study touched (radiology.services.study_sync, the identity rules).

- `body`: the request's body. The upload URL wraps its view in `streaming`, which installs `BodyUnread`
  as the request's upload handler (Django's documented `request.upload_handlers`), so anything that
  reads the form before the view (the CSRF check looks for a form token; browsers send it in the
  X-CSRFToken header) gets an empty form and the body stays unread until the role check has passed. The
  view then calls `receive`, which parses the body with Django's MultiPartParser and
  `DicomUploadHandler`: every part goes to a temporary file (never whole in memory) and, as soon as its
  last byte has arrived, to the ingest.
- `store`: the ingest checks each file and stores the good ones in Orthanc from a few threads while the
  next parts arrive; at the end each study touched is recorded once, and the outcome is the answer
  (radiology.api.serializers.UploadAnswerSerializer).
- `parts`: uploaded parts into files to check: zip archives opened from disk, their member count bounded
  first, members copied out one at a time with hard limits.
"""

from .body import receive, streaming

__all__ = ["receive", "streaming"]
