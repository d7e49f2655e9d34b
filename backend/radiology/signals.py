"""What radiology tells the apps above it (which it may not import): receivers connect in their AppConfig."""

from django.dispatch import Signal

# Sent inside the transaction that created or refreshed a study row from Orthanc (upload, STOW-RS, the
# change feed) or linked it to a patient; keyword argument `study`. Receivers that queue work do it through
# the outbox, so the work follows only a committed change.
study_changed = Signal()
