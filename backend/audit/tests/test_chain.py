"""The write path (no lock, durable before the answer), the sealer, and verification against signed
checkpoints in the write-once store (the real S3 stand-in), with one test per way of tampering.

Tampering runs as the owner account the tests connect as, after dropping the append-only triggers: what
someone holding the database's root password could do (the application's account cannot: its grants
stop it, core/tests/test_least_privilege.py). DROP/CREATE TRIGGER commit implicitly in MariaDB, so these
tests are transactional, and conftest truncates the audit tables after them.
"""

import contextlib
import io
import json
import os
import subprocess
import sys
import threading
import uuid
from datetime import datetime, timedelta
from importlib import import_module

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections, transaction
from django.utils import timezone
from minio.error import S3Error
from prometheus_client import REGISTRY

from audit import checkpoints, tasks
from audit.chain import _sealer_lock, seal, verify_chain
from audit.client import AuditClient
from audit.models import Action, AuditEvent, AuditSeal

tampering = pytest.mark.django_db(transaction=True)


def _events(n: int) -> list[AuditEvent]:
    return [AuditClient.log_event(Action.READ, resource_type="patient", resource_id=i) for i in range(n)]


def _sql(statement: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


@contextlib.contextmanager
def _triggers_dropped():
    """What an attacker with the database's root account could do: drop the triggers, tamper, restore."""
    triggers = {
        "audit_auditevent": import_module("audit.migrations.0002_append_only_triggers").trigger,
        "audit_auditseal": import_module("audit.migrations.0004_seals").trigger,
    }
    archived_only = import_module("audit.migrations.0006_archives").delete_trigger
    for table in triggers:
        _sql(f"DROP TRIGGER {table}_no_update")
        _sql(f"DROP TRIGGER {table}_no_delete")
    try:
        yield
    finally:
        for table, make in triggers.items():
            _sql(make("UPDATE"))
            _sql(archived_only(table))


def _checkpointed(n: int) -> list[AuditEvent]:
    events = _events(n)
    assert checkpoints.write().position == n
    return events


def _rewrite_seals() -> None:
    """Throw the seals away and seal again: every link recomputed, the chain consistent in itself."""
    with _triggers_dropped():
        _sql("DELETE FROM audit_auditseal")
    seal()
    assert verify_chain().intact  # without the checkpoints nothing shows


# --- the write path -------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_write_takes_no_lock_while_the_sealer_is_in_the_middle_of_a_run():
    """The old design locked the chain head on every write. Now a sealer holding its lock and an open
    transaction that has inserted seals does not delay a writer (lock waits would fail after 1 s)."""
    _events(3)
    started, release = threading.Event(), threading.Event()

    def sealer() -> None:
        try:
            with _sealer_lock() as held, transaction.atomic():
                assert held
                from audit.chain import _seal_batch

                _seal_batch(100)
                started.set()
                release.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=sealer)
    thread.start()
    try:
        assert started.wait(10)
        _sql("SET SESSION innodb_lock_wait_timeout = 1")
        before = timezone.now()
        _events(5)
        assert timezone.now() - before < timedelta(seconds=1)
        assert seal() is None  # only one sealer at a time
    finally:
        release.set()
        thread.join()
    assert seal() == 5
    report = verify_chain()
    assert report.intact and report.checked == 8


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_on_a_fresh_chain_all_succeed_and_the_chain_holds():
    from concurrent.futures import ThreadPoolExecutor

    def write(index: int) -> None:
        try:
            for step in range(5):
                AuditClient.log_event(Action.READ, resource_type="thread", resource_id=f"{index}-{step}")
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(write, range(6)))
    report = verify_chain()
    assert report.intact and report.checked == 30


@pytest.mark.django_db(transaction=True)
def test_batched_events_from_threads_are_written_in_groups_and_chained():
    """AuditClient.batched(): threads started with a copy of the context add to the same batch; a full
    group is written at once, the rest when the block ends; the chain holds across groups."""
    import contextvars

    def write(index: int) -> None:
        try:
            for step in range(3):
                AuditClient.log_event(
                    Action.EXTERNAL_CALL, system="orthanc", endpoint=f"POST /instances {index}-{step}"
                )
        finally:
            connections.close_all()

    with AuditClient.batched(size=4):
        AuditClient.log_event(Action.EXTERNAL_CALL, system="orthanc", endpoint="POST /instances first")
        assert AuditEvent.objects.count() == 0  # kept until the group is full
        threads = [threading.Thread(target=contextvars.copy_context().run, args=(write, i)) for i in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert AuditEvent.objects.count() == 8  # two full groups of 4; 2 events still waiting
    assert AuditEvent.objects.count() == 10
    AuditClient.log_event(Action.READ, resource_type="patient", resource_id=1)  # unbatched again
    report = verify_chain()
    assert report.intact and report.checked == 11


@pytest.mark.django_db(transaction=True)
def test_an_event_that_commits_after_newer_ones_were_sealed_is_sealed_at_the_end():
    first = _events(1)[0]
    inserted, commit = threading.Event(), threading.Event()
    late: list[AuditEvent] = []

    def slow_transaction() -> None:
        try:
            with transaction.atomic():
                late.extend(_events(1))
                inserted.set()
                commit.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=slow_transaction)
    thread.start()
    assert inserted.wait(10)
    newer = _events(1)[0]
    assert seal() == 2  # the first and the newer one; the late one is not committed yet
    commit.set()
    thread.join()
    assert late[0].pk < newer.pk
    assert seal() == 1
    order = list(AuditSeal.objects.order_by("position").values_list("event_id", flat=True))
    assert order == [first.pk, newer.pk, late[0].pk]
    assert verify_chain().intact


@pytest.mark.django_db(transaction=True)
def test_no_event_is_lost_when_the_process_is_killed_right_after_answering(make_user):
    """A separate process answers an audited request, prints the status, and is killed with SIGKILL at
    once (no cleanup, no flush): the event is in the database."""
    from acct.services import token_issue

    user = make_user("ADMIN")
    _, token = token_issue(actor=user, user=user)
    request_id = f"killed-{uuid.uuid4().hex}"
    script = f"""
import os, signal, django
django.setup()
from django.conf import settings
settings.DATABASES["default"]["NAME"] = {connection.settings_dict["NAME"]!r}
from rest_framework.test import APIClient
client = APIClient()
client.credentials(HTTP_AUTHORIZATION="Token {token}")
response = client.get("/api/audit/events?action=LOGIN", HTTP_X_REQUEST_ID={request_id!r})
print(response.status_code, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "cdss.settings.test"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=django_settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -9, done.stderr[-2000:]
    assert done.stdout.split() == ["200"]
    assert AuditEvent.objects.filter(request_id=request_id, resource_type="audit_event").count() == 1


def test_the_api_shows_each_events_link_once_sealed(token_client):
    events = _events(2)
    admin = token_client("ADMIN")
    rows = admin.get("/api/audit/events", {"resource_type": "patient"}).json()["results"]
    assert [row["hash"] for row in rows] == ["", ""]  # not sealed yet
    seal()
    rows = {row["id"]: row for row in admin.get("/api/audit/events", {"resource_type": "patient"}).json()["results"]}
    hashes = dict(AuditSeal.objects.values_list("event_id", "hash"))
    assert rows[events[1].pk]["prev_hash"] == rows[events[0].pk]["hash"] == hashes[events[0].pk]
    csv = b"".join(admin.get("/api/audit/events.csv", {"resource_type": "patient"}).streaming_content).decode()
    assert hashes[events[1].pk] in csv


@pytest.mark.django_db
def test_the_migration_seals_the_events_already_there():
    from django.apps import apps

    events = _events(3)
    import_module("audit.migrations.0004_seals").seal_existing(apps, None)
    assert list(AuditSeal.objects.order_by("position").values_list("event_id", flat=True)) == [e.pk for e in events]
    assert verify_chain().intact


# --- checkpoints -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_checkpoint_is_signed_locked_and_cannot_be_deleted_or_replaced(store):
    _events(3)
    written = checkpoints.write()
    assert written.position == 3 and written.hash == AuditSeal.objects.get(position=3).hash
    assert checkpoints.write() is None  # the head did not move: nothing new to sign
    bucket = django_settings.S3_BUCKETS["audit"]
    headers = store.stat_object(bucket, written.key, version_id=written.version_id).metadata
    until = datetime.fromisoformat(headers["x-amz-object-lock-retain-until-date"].replace("Z", "+00:00"))
    assert headers["x-amz-object-lock-mode"] == "COMPLIANCE" and until > timezone.now() + timedelta(days=365)
    with pytest.raises(S3Error, match="AccessDenied"):
        store.remove_object(bucket, written.key, version_id=written.version_id)
    body = json.loads(store.get_object(bucket, written.key, version_id=written.version_id).read())
    assert body["position"] == 3 and len(body["signature"]) == 64
    found, problems = checkpoints.read()
    assert [(c.position, c.hash) for c in found] == [(3, written.hash)] and problems == []


@tampering
def test_verification_passes_an_untouched_chain_and_exports_the_outcome(store):
    _checkpointed(3)
    _events(2)
    assert tasks.checkpoint() == 5
    out = io.StringIO()
    call_command("verify_audit_chain", stdout=out)
    assert "intact: 5 events verified, 2 checkpoints matched" in out.getvalue()
    assert REGISTRY.get_sample_value("cdss_audit_chain_verification", {"outcome": "intact"}) == 1
    assert REGISTRY.get_sample_value("cdss_audit_chain_verification", {"outcome": "broken"}) == 0
    assert REGISTRY.get_sample_value("cdss_audit_chain_length") == 5


@tampering
def test_an_edited_row_is_found(store):
    events = _checkpointed(5)
    with _triggers_dropped():
        _sql("UPDATE audit_auditevent SET patient_id = 'someone-else' WHERE id = %s", [events[2].pk])
    report = checkpoints.verify()
    assert report.broken_at == events[2].pk and "edited" in report.reason
    with pytest.raises(CommandError, match=f"event {events[2].pk} at position 3"):
        call_command("verify_audit_chain")
    assert REGISTRY.get_sample_value("cdss_audit_chain_verification", {"outcome": "broken"}) == 1
    assert tasks.verify() == "broken"


@tampering
def test_a_removed_row_is_found(store):
    events = _checkpointed(5)
    with _triggers_dropped():
        _sql("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])
    report = checkpoints.verify()
    assert report.broken_at == events[1].pk and "the row was removed" in report.reason


@tampering
def test_a_row_removed_with_its_seal_is_found(store):
    events = _checkpointed(5)
    with _triggers_dropped():
        _sql("DELETE FROM audit_auditseal WHERE event_id = %s", [events[1].pk])
        _sql("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])
    report = checkpoints.verify()
    assert not report.intact and "positions 2 to 2 are missing" in report.reason


@tampering
def test_a_row_added_in_the_middle_is_found(store):
    """An event slipped in between two sealed ones (into an id left free by a rolled-back transaction),
    dated among them: no sealer seals it, and verification names it."""
    first = _events(2)
    with contextlib.suppress(RuntimeError), transaction.atomic():
        _events(1)
        raise RuntimeError("roll back: the id stays unused")
    _events(2)
    checkpoints.write()
    gap = first[-1].pk + 1
    assert not AuditEvent.objects.filter(pk=gap).exists()
    _sql(
        "INSERT INTO audit_auditevent (id, occurred_at, actor_type, actor_username, actor_roles, action, "
        "resource_type, resource_id, patient_id, outcome, user_agent, request_id, `system`, endpoint, detail) "
        "VALUES (%s, %s, 'user', 'alibi', '[]', 'READ', 'patient', 'x', 'p-1', 'SUCCESS', '', '', '', '', '{}')",
        [gap, timezone.now() - timedelta(hours=2)],
    )
    report = checkpoints.verify()
    assert report.broken_at == gap and "in no seal" in report.reason


@tampering
def test_a_row_added_in_the_middle_with_the_chain_rewritten_is_found(store):
    first = _events(2)
    with contextlib.suppress(RuntimeError), transaction.atomic():
        _events(1)
        raise RuntimeError("roll back: the id stays unused")
    _events(2)
    assert checkpoints.write().position == 4
    _sql(
        "INSERT INTO audit_auditevent (id, occurred_at, actor_type, actor_username, actor_roles, action, "
        "resource_type, resource_id, patient_id, outcome, user_agent, request_id, `system`, endpoint, detail) "
        "VALUES (%s, %s, 'user', 'alibi', '[]', 'READ', 'patient', 'x', 'p-1', 'SUCCESS', '', '', '', '', '{}')",
        [first[-1].pk + 1, first[-1].occurred_at],
    )
    _rewrite_seals()
    report = checkpoints.verify()
    assert report.broken_at == 4 and "rewritten" in report.reason


@tampering
def test_a_tail_cut_off_is_found(store):
    events = _checkpointed(5)
    with _triggers_dropped():
        _sql("DELETE FROM audit_auditseal WHERE position > 3")
        _sql("DELETE FROM audit_auditevent WHERE id >= %s", [events[3].pk])
    report = checkpoints.verify()
    assert report.checked == 3 and report.broken_at == 5 and "ends at position 3" in report.reason


@tampering
def test_a_restored_backup_ends_before_the_newest_checkpoint_and_still_verifies_up_to_it(store):
    """A backup restored is older than the checkpoints written since: with --restored the chain must match
    every checkpoint it reaches, and the later ones name what the restore lost; an edit is still found."""
    events = _checkpointed(3)
    _events(2)
    assert tasks.checkpoint() == 5
    with _triggers_dropped():  # the backup was taken at position 3
        _sql("DELETE FROM audit_auditseal WHERE position > 3")
        _sql("DELETE FROM audit_auditevent WHERE id > %s", [events[2].pk])
    assert "ends at position 3" in checkpoints.verify().reason  # without the flag: a tail cut, as it should be
    out = io.StringIO()
    call_command("verify_audit_chain", "--restored", stdout=out)
    assert "intact: 3 events verified, 1 checkpoints matched" in out.getvalue()
    assert "up to position 5: the events after position 3 are not in this backup" in out.getvalue()

    with _triggers_dropped():
        _sql("UPDATE audit_auditevent SET patient_id = 'someone-else' WHERE id = %s", [events[1].pk])
    report = checkpoints.verify(restored=True)
    assert report.broken_at == events[1].pk and "edited" in report.reason


@tampering
def test_the_head_row_deleted_is_found(store):
    """The newest event and its seal (the chain's head) removed: the chain is one short of the checkpoint."""
    events = _checkpointed(4)
    with _triggers_dropped():
        _sql("DELETE FROM audit_auditseal WHERE position = 4")
        _sql("DELETE FROM audit_auditevent WHERE id = %s", [events[3].pk])
    report = checkpoints.verify()
    assert report.broken_at == 4 and "ends at position 3" in report.reason


@tampering
def test_emptied_tables_are_found(store):
    """TRUNCATE (no trigger fires) of both tables: the checkpoints still say how long the chain was."""
    _checkpointed(4)
    _sql("TRUNCATE TABLE audit_auditevent")
    _sql("TRUNCATE TABLE audit_auditseal")
    report = checkpoints.verify()
    assert report.checked == 0 and "ends at position 0" in report.reason


@tampering
def test_the_whole_chain_rewritten_is_found(store):
    """An edit, then every link recomputed: the chain agrees with itself, not with the signed checkpoint."""
    events = _checkpointed(3)
    _events(2)
    checkpoints.write()
    with _triggers_dropped():
        _sql("UPDATE audit_auditevent SET patient_id = 'someone-else' WHERE id = %s", [events[1].pk])
    _rewrite_seals()
    report = checkpoints.verify()
    assert report.broken_at == 3 and "rewritten" in report.reason


@tampering
def test_a_forged_checkpoint_is_found(store):
    """Someone with the bucket's credentials but not the key writes a checkpoint for a rewritten chain."""
    _checkpointed(2)
    forged = json.dumps({"position": 2, "hash": "f" * 64, "event_id": 2, "signed_at": "x", "signature": "0" * 64})
    body = forged.encode()
    store.put_object(
        django_settings.S3_BUCKETS["audit"],
        checkpoints.object_name(2),
        io.BytesIO(body),
        len(body),
        metadata=checkpoints._checksum(body),
    )
    report = checkpoints.verify()
    assert "no valid signature" in report.reason


@tampering
def test_a_deleted_checkpoint_is_found(store):
    _checkpointed(2)
    store.remove_object(django_settings.S3_BUCKETS["audit"], checkpoints.object_name(2))  # a delete marker only
    report = checkpoints.verify()
    assert "delete marker" in report.reason


@tampering
def test_an_unreachable_store_or_a_missing_key_is_an_error_not_a_pass(store, settings):
    _checkpointed(2)
    settings.S3_ENDPOINT_URL = "http://127.0.0.1:9"
    report = checkpoints.verify()
    assert report.outcome == "error" and "unreachable" in report.error and report.checked == 2
    with pytest.raises(CommandError, match="not verified") as raised:
        call_command("verify_audit_chain")
    assert raised.value.returncode == 2
    assert tasks.checkpoint() is None  # logged and counted, not raised
    settings.AUDIT_CHECKPOINT_KEY = ""
    assert "AUDIT_CHECKPOINT_KEY" in checkpoints.verify().error
    assert REGISTRY.get_sample_value("cdss_audit_chain_verification", {"outcome": "error"}) == 1


def test_the_beat_runs_the_sealer_the_checkpoints_and_the_verification():
    schedule = {entry["task"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"audit.seal", "audit.checkpoint", "audit.verify"} <= schedule


@pytest.mark.django_db(transaction=True)
def test_the_seal_task_reports_the_backlog():
    _events(3)
    assert tasks.seal() == 3
    assert REGISTRY.get_sample_value("cdss_audit_unsealed_events") == 0
    assert REGISTRY.get_sample_value("cdss_audit_unsealed_oldest_seconds") == 0
