"""Monthly archives (audit.archive): closed months stored locked and signed, read back and verified, purged
from the database by the owner only inside an archived range, and the chain verified across the boundary,
tampering on either side of it still found. Against the real MariaDB and the S3 stand-in.

The months are made by sealing with the clock set back (the sealer's time decides a seal's month). The
tests connect as the owner (the purge's account); DROP/CREATE TRIGGER and the purge commit, so they are
transactional and conftest truncates the audit tables after them.
"""

import contextlib
import io
from datetime import timedelta
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError
from django.utils import timezone
from minio import Minio
from minio.error import S3Error

from audit import archive, checkpoints
from audit.chain import seal, verify_chain
from audit.client import AuditClient
from audit.models import Action, AuditArchive, AuditEvent, AuditSeal

from .test_chain import _rewrite_seals, _sql, _triggers_dropped

tampering = pytest.mark.django_db(transaction=True)


def _sealed_in(months_ago: int, n: int) -> list[AuditEvent]:
    """n events logged and sealed `months_ago` months back (mid-month)."""
    then = timezone.now().replace(day=15, hour=12) - timedelta(days=31 * months_ago)
    with mock.patch("django.utils.timezone.now", return_value=then):
        events = [AuditClient.log_event(Action.READ, resource_type="patient", resource_id=i) for i in range(n)]
        assert seal() == n
    return events


def _three_months() -> tuple[list, list, list]:
    return _sealed_in(3, 3), _sealed_in(2, 2), _sealed_in(0, 2)


@tampering
def test_closed_months_are_archived_locked_verified_and_purged_and_the_chain_verifies_across(store):
    _, _, recent = _three_months()
    out = io.StringIO()
    call_command("audit_archive", stdout=out)
    assert out.getvalue().count("archived ") == 2  # the current month is not over: left alone
    stored, problems = archive.read()
    assert problems == [] and [(a.first_position, a.last_position, a.events) for a in stored] == [(1, 3, 3), (4, 5, 2)]
    assert stored[1].prev_hash == stored[0].last_hash == AuditSeal.objects.get(position=3).hash
    assert list(AuditArchive.objects.values_list("first_position", "last_position")) == [(1, 3), (4, 5)]
    bucket = django_settings.S3_BUCKETS["audit"]
    for name in (stored[0].key, stored[0].data):
        headers = store.stat_object(bucket, name).metadata
        assert headers["x-amz-object-lock-mode"] == "COMPLIANCE"
        with pytest.raises(S3Error, match="AccessDenied"):
            version = store.stat_object(bucket, name).version_id
            store.remove_object(bucket, name, version_id=version)
    assert {c.position for c in checkpoints.read()[0]} >= {3, 5}  # a checkpoint at each archive's end
    assert archive.archive_next() is None  # nothing more to archive

    out = io.StringIO()
    call_command("audit_archive", "--purge", "--months", "0", stdout=out)
    assert "purged 5 archived events" in out.getvalue()
    assert set(AuditEvent.objects.values_list("id", flat=True)) == {e.pk for e in recent}
    assert list(AuditSeal.objects.values_list("position", flat=True)) == [6, 7]

    checkpoints.write()
    report = checkpoints.verify()  # the hourly run: the checkpoints above the archives only
    assert report.intact and report.checked == 2 and report.archived == 5 and report.checkpoints == 1
    out = io.StringIO()
    call_command("verify_audit_chain", "--archives", stdout=out)
    assert "intact: 2 events verified, 3 checkpoints matched" in out.getvalue()
    assert "from position 6 on" in out.getvalue()
    new = AuditClient.log_event(Action.READ, resource_type="patient", resource_id="after")
    assert seal() == 1 and AuditSeal.objects.get(event_id=new.pk).position == 8
    assert checkpoints.verify().intact


@tampering
def test_the_purge_keeps_months_inside_the_database_window(store):
    _three_months()
    call_command("audit_archive", stdout=io.StringIO())
    assert archive.purge(months=12) == 0
    assert AuditEvent.objects.count() == 7
    report = checkpoints.verify()
    assert report.intact and report.archived == 0 and report.checked == 7  # the archives' ends matched in passing


@contextlib.contextmanager
def _objects_read():
    """The names of the objects downloaded (GET) through any storage client inside the block."""
    names, original = [], Minio.get_object

    def get_object(client, bucket_name, object_name, *args, **kwargs):
        names.append(object_name)
        return original(client, bucket_name, object_name, *args, **kwargs)

    with mock.patch.object(Minio, "get_object", get_object):
        yield names


def _checkpoint_positions(names: list[str]) -> list[int]:
    prefix = django_settings.AUDIT_CHECKPOINT_PREFIX
    return sorted(int(name.removeprefix(prefix).removesuffix(".json")) for name in names if name.startswith(prefix))


@tampering
def test_the_hourly_verification_reads_no_checkpoint_inside_the_archives(store):
    """The checkpoints kept for years (one per 5 minutes) are not all downloaded every hour: the hourly run
    reads the manifests and the checkpoints above the last archived position; the full pass (--archives)
    reads every version, and is the one that sees an attempt on a checkpoint inside an archived month."""
    _sealed_in(3, 3)
    assert checkpoints.write(position=2).position == 2  # checkpoints inside the months to be archived
    _sealed_in(2, 2)
    assert checkpoints.write(position=4).position == 4
    _sealed_in(0, 2)
    call_command("audit_archive", "--purge", "--months", "0", stdout=io.StringIO())  # archives 1-3 and 4-5
    assert checkpoints.write().position == 7
    AuditClient.log_event(Action.READ, resource_type="patient", resource_id="later")
    assert checkpoints.write().position == 8

    with _objects_read() as names:
        report = checkpoints.verify()
    assert report.intact and report.archived == 5 and report.checkpoints == 2
    assert _checkpoint_positions(names) == [7, 8]
    assert sorted(name for name in names if name.startswith(django_settings.AUDIT_ARCHIVE_PREFIX)) == [
        archive.manifest_name(1),
        archive.manifest_name(4),
    ]

    with _objects_read() as names:
        report = checkpoints.verify(archives=True)
    assert report.intact and report.checkpoints == 4  # 3 and 5 against the archives' ends, 7 and 8
    assert _checkpoint_positions(names) == [2, 3, 4, 5, 7, 8]

    store.remove_object(django_settings.S3_BUCKETS["audit"], checkpoints.object_name(2))  # a delete marker
    assert "delete marker" in checkpoints.verify(archives=True).reason
    with _objects_read() as names:
        report = checkpoints.verify()
    assert report.intact and _checkpoint_positions(names) == [7, 8]  # not read hourly: the full pass's to find


@tampering
def test_no_row_outside_an_archived_range_can_be_deleted_even_by_the_owner(store):
    older, _, recent = _three_months()
    call_command("audit_archive", stdout=io.StringIO())
    for statement, row in (
        ("DELETE FROM audit_auditevent WHERE id = %s", recent[0].pk),
        ("DELETE FROM audit_auditseal WHERE event_id = %s", recent[0].pk),
    ):
        with pytest.raises(DatabaseError, match="append-only"):
            _sql(statement, [row])
    _sql("DELETE FROM audit_auditevent WHERE id = %s", [older[0].pk])  # archived: the purge's right
    assert not AuditEvent.objects.filter(pk=older[0].pk).exists()


@tampering
def test_rows_purged_past_the_archives_are_found(store):
    """Two months archived and purged, then the database's first remaining event and its seal removed:
    the chain no longer starts right after an archive."""
    _three_months()
    call_command("audit_archive", "--purge", "--months", "0", stdout=io.StringIO())
    with _triggers_dropped():
        _sql("DELETE FROM audit_auditseal WHERE position = 6")
        _sql("DELETE FROM audit_auditevent WHERE id = (SELECT MIN(id) FROM audit_auditevent)")
    report = checkpoints.verify()
    assert report.broken_at == 6 and "positions 6 to 6 are missing" in report.reason


@tampering
def test_a_month_deleted_under_a_forged_archive_record_is_found(store):
    """The owner records a month as archived in the database (no signed manifest) and deletes it: the
    triggers let it happen, verification does not trust the record."""
    older, _, _ = _three_months()
    AuditArchive.objects.create(
        month="2000-01",
        first_position=1,
        last_position=3,
        prev_hash="0" * 64,
        last_hash="x",
        manifest="forged",
        archived_at=timezone.now(),
    )
    _sql("DELETE FROM audit_auditevent WHERE id IN %s", [tuple(e.pk for e in older)])
    _sql("DELETE FROM audit_auditseal WHERE position <= 3")
    report = checkpoints.verify()
    assert report.broken_at == 1 and "positions 1 to 3 are missing" in report.reason and "no archive" in report.reason


@tampering
def test_an_archived_month_edited_in_the_database_before_the_purge_is_found(store):
    older, _, _ = _three_months()
    call_command("audit_archive", stdout=io.StringIO())
    with _triggers_dropped():
        _sql("UPDATE audit_auditevent SET patient_id = 'someone-else' WHERE id = %s", [older[1].pk])
    _rewrite_seals()
    report = checkpoints.verify()
    assert report.broken_at == 3 and "rewritten" in report.reason
    with pytest.raises(archive.ArchiveError, match="differs"):
        archive.purge(months=0)


@tampering
def test_an_archive_replaced_or_a_manifest_forged_is_found(store):
    _three_months()
    call_command("audit_archive", stdout=io.StringIO())
    first = archive.read()[0][0]
    bucket = django_settings.S3_BUCKETS["audit"]
    assert archive.verify_contents(first) == ""
    body = b"not the archive"
    metadata = checkpoints._checksum(body)
    store.put_object(bucket, first.data, io.BytesIO(body), len(body), metadata=metadata)  # a newer version
    assert "not the one its manifest signed" in archive.verify_contents(first)
    report = checkpoints.verify(archives=True)
    assert not report.intact and "not the one its manifest signed" in report.reason
    assert checkpoints.verify().intact  # the manifests alone still agree with the database

    forged = b'{"month": "2000-01", "first_position": 1, "signature": "00"}'
    store.put_object(
        bucket, archive.manifest_name(1), io.BytesIO(forged), len(forged), metadata=checkpoints._checksum(forged)
    )
    report = checkpoints.verify()
    assert "no valid signature" in report.reason


@tampering
def test_a_deleted_manifest_is_found_and_an_unreachable_store_is_an_error(store, settings):
    """The manifests are read as the checkpoints are (checkpoints.signed_versions): a delete marker is a
    problem, a store that does not answer an error, never an empty list."""
    _three_months()
    call_command("audit_archive", stdout=io.StringIO())
    store.remove_object(django_settings.S3_BUCKETS["audit"], archive.manifest_name(4))  # a delete marker only
    manifests, problems = archive.read()
    assert [m.first_position for m in manifests] == [1, 4]  # the locked version is still there
    assert len(problems) == 1 and "archive manifest" in problems[0] and "delete marker" in problems[0]
    assert "delete marker" in checkpoints.verify().reason
    settings.S3_ENDPOINT_URL = "http://127.0.0.1:9"
    with pytest.raises(checkpoints.CheckpointError, match="unreachable"):
        archive.read()


@tampering
def test_an_archive_missing_from_the_store_is_found(store):
    """Manifests must follow one another from position 1: one that starts later is no proof."""
    _three_months()
    call_command("audit_archive", stdout=io.StringIO())
    manifests, _ = archive.read()
    report = verify_chain(archives=manifests[1:])
    assert report.broken_at == 4 and "does not follow position 0" in report.reason


@pytest.mark.django_db
def test_a_retention_under_two_years_is_refused(store, settings):
    settings.AUDIT_ARCHIVE_RETENTION_DAYS = 365
    with pytest.raises(CommandError, match="at least two years"):
        call_command("audit_archive")
    with contextlib.suppress(archive.ArchiveError):
        archive.archive_next()
    assert not AuditArchive.objects.exists()
