import uuid

import pytest

from audit import archive
from core.storage import storage_client


@pytest.fixture
def store(settings):
    """Checkpoints, archives and acknowledged restores under a prefix of this test's own in the test audit
    bucket (object lock: nothing written there can be removed, so no test may see another's). The client is
    the admin's: the tampering tests act as an attacker holding more than the application's account, which
    may not delete at all."""
    settings.AUDIT_CHECKPOINT_KEY = f"test-key-{uuid.uuid4().hex}"
    run = uuid.uuid4().hex
    settings.AUDIT_CHECKPOINT_PREFIX = f"test-{run}/checkpoints/"
    settings.AUDIT_ARCHIVE_PREFIX = f"test-{run}/archives/"
    settings.AUDIT_RESTORE_PREFIX = f"test-{run}/restores/"
    settings.AUDIT_ARCHIVE_RETENTION_DAYS = archive.MINIMUM_RETENTION_DAYS
    return storage_client(admin=True)
