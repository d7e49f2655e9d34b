"""Acknowledged restores (audit.restores): after a backup is restored into the application database, its
chain ends before the newest checkpoints. Acknowledged, verification passes and names the loss; the chain
goes on from the restored end (reaching the lost positions again, with new checkpoints); and tampering is
still found: a later cut or edit, a forged, unknown-key or deleted acknowledgement, one that does not match
the chain. Against the real MariaDB and the S3 stand-in, as test_chain.
"""

import io
import json
import uuid
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from prometheus_client import REGISTRY

from audit import checkpoints, restores, tasks
from audit.models import AuditSeal

from .test_chain import _checkpointed, _events, _rewrite_seals, _sql, _triggers_dropped

tampering = pytest.mark.django_db(transaction=True)
BACKUP = "cdss-20261204T021500Z.sql.gz.age"


def _back_to(position: int) -> None:
    """What restoring a backup dumped at `position` leaves of the chain: the seals and events after it gone."""
    event_id = AuditSeal.objects.get(position=position).event_id
    with _triggers_dropped():
        _sql("DELETE FROM audit_auditseal WHERE position > %s", [position])
        _sql("DELETE FROM audit_auditevent WHERE id > %s", [event_id])


def _acknowledge() -> str:
    out = io.StringIO()
    call_command(
        "audit_acknowledge_restore", "--reason", "disk lost", "--backup", BACKUP, "--by", "ops@host", stdout=out
    )
    return out.getvalue()


def _restored_acknowledged_and_gone_on() -> dict:
    """Checkpoints at 3 and 5; the backup of position 3 restored and acknowledged; two events more (positions
    4 and 5 again, other hashes), checkpointed at 5 anew. Returns the lost hash and the post-restore events."""
    _checkpointed(3)
    _events(2)
    assert tasks.checkpoint() == 5
    lost_hash = AuditSeal.objects.get(position=5).hash
    _back_to(3)
    _acknowledge()
    after = _events(2)
    assert tasks.checkpoint() == 5  # a new version at a position the restore lost
    assert AuditSeal.objects.get(position=5).hash != lost_hash
    return {"lost_hash": lost_hash, "after": after}


@tampering
def test_an_acknowledged_restore_verifies_names_the_loss_and_the_chain_goes_on(store):
    _checkpointed(3)
    _events(2)
    assert tasks.checkpoint() == 5
    lost_hash = AuditSeal.objects.get(position=5).hash
    _back_to(3)
    assert "ends at position 3" in checkpoints.verify().reason  # not acknowledged: a tail cut, as before
    assert tasks.verify() == "broken"

    printed = _acknowledge()
    assert f"acknowledged the restore of {BACKUP}" in printed and "ends at position 3" in printed
    [restore], problems = restores.read()
    assert problems == []
    assert (restore.position, restore.hash) == (3, AuditSeal.objects.get(position=3).hash)
    assert (restore.lost_position, restore.lost_hash) == (5, lost_hash)
    assert (restore.backup, restore.by, restore.reason) == (BACKUP, "ops@host", "disk lost")
    headers = store.stat_object(django_settings.S3_BUCKETS["audit"], restore.key).metadata
    assert headers["x-amz-object-lock-mode"] == "COMPLIANCE"

    report = checkpoints.verify()
    assert report.intact and report.checked == 3 and report.checkpoints == 1
    assert report.restores == (
        f"positions 4 to 5 were lost in the restore of {BACKUP} acknowledged at {restore.acknowledged_at} "
        "by ops@host (disk lost): 1 signed records of them not compared",
    )
    out = io.StringIO()
    call_command("verify_audit_chain", stdout=out)
    assert "intact: 3 events verified, 1 checkpoints matched" in out.getvalue()
    assert f"acknowledged: positions 4 to 5 were lost in the restore of {BACKUP}" in out.getvalue()
    assert tasks.verify() == "intact"
    assert REGISTRY.get_sample_value("cdss_audit_chain_verification", {"outcome": "intact"}) == 1
    assert REGISTRY.get_sample_value("cdss_audit_chain_restores_acknowledged") == 1
    assert "nothing to acknowledge" in _acknowledge()
    assert len(restores.read()[0]) == 1

    _events(2)  # positions 4 and 5 again, sealed after the restore
    assert tasks.checkpoint() == 5
    versions = [c for c in checkpoints.read()[0] if c.position == 5]
    assert sorted(c.hash for c in versions) == sorted([lost_hash, AuditSeal.objects.get(position=5).hash])
    _events(1)
    assert tasks.checkpoint() == 6
    report = checkpoints.verify()
    assert report.intact and report.checked == 6 and report.checkpoints == 3  # 3, the new 5, 6
    assert "1 signed records of them not compared" in report.restores[0]


@tampering
def test_the_tail_cut_after_an_acknowledged_restore_is_found(store):
    _restored_acknowledged_and_gone_on()
    _back_to(4)
    report = checkpoints.verify()
    assert report.broken_at == 5 and "ends at position 4" in report.reason


@tampering
def test_the_chain_cut_before_the_acknowledged_restored_end_is_found(store):
    """Back to position 2: the acknowledgement itself records position 3, as the checkpoints after it do."""
    _restored_acknowledged_and_gone_on()
    _back_to(2)
    assert "ends at position 2" in checkpoints.verify().reason
    _events(1)  # grown again to 3, with another hash
    report = checkpoints.verify()
    assert report.broken_at == 3 and "rewritten" in report.reason


@tampering
def test_an_edit_before_or_after_the_acknowledged_restore_is_found(store):
    _restored_acknowledged_and_gone_on()
    before = AuditSeal.objects.get(position=2).event_id
    with _triggers_dropped():
        _sql("UPDATE audit_auditevent SET patient_id = 'someone-else' WHERE id = %s", [before])
    report = checkpoints.verify()
    assert report.broken_at == before and "edited" in report.reason
    _rewrite_seals()  # every link recomputed: the acknowledged hash at 3 no longer matches
    report = checkpoints.verify()
    assert report.broken_at == 3 and "rewritten" in report.reason


@tampering
def test_an_edit_of_an_event_sealed_after_the_restore_is_found(store):
    found = _restored_acknowledged_and_gone_on()
    event = found["after"][0]
    with _triggers_dropped():
        _sql("UPDATE audit_auditevent SET patient_id = 'someone-else' WHERE id = %s", [event.pk])
    report = checkpoints.verify()
    assert report.broken_at == event.pk and "edited" in report.reason


def _put(store, name: str, fields: dict, signature: str) -> None:
    body = json.dumps({**fields, "signature": signature}).encode()
    store.put_object(
        django_settings.S3_BUCKETS["audit"], name, io.BytesIO(body), len(body), metadata=checkpoints._checksum(body)
    )


def _cut_tail_claimed_as_restore(**changed) -> restores.Restore:
    """A tail cut (5 checkpointed, the chain back to 3) and an acknowledgement of it, not written yet."""
    _checkpointed(3)
    _events(2)
    assert tasks.checkpoint() == 5
    _back_to(3)
    now = timezone.now().isoformat(timespec="microseconds")
    fields = {"position": 3, "hash": AuditSeal.objects.get(position=3).hash, "lost_position": 5}
    fields |= {"lost_hash": "0" * 64, "backup": BACKUP, "by": "intruder", "reason": "hiding a cut"}
    return restores.Restore(**{**fields, "acknowledged_at": now, **changed})


def _found_and_not_taken(restore: restores.Restore, problem: str) -> None:
    """The acknowledgement is reported, and does not excuse the cut it claims to be a restore."""
    found, problems = restores.read()
    assert found == [] and len(problems) == 1 and problem in problems[0]
    report = checkpoints.verify()
    assert report.broken_at == restore.lost_position and f"ends at position {restore.position}" in report.reason


@tampering
def test_a_forged_acknowledgement_is_found(store):
    """Someone with the bucket's credentials but not the key acknowledges the tail they cut."""
    forged = _cut_tail_claimed_as_restore()
    _put(store, restores.object_name(forged), forged.fields(), "0" * 64)
    _found_and_not_taken(forged, "no valid signature")


@tampering
def test_an_acknowledgement_signed_by_an_unknown_key_is_found(store, settings):
    forged = _cut_tail_claimed_as_restore()
    key = settings.AUDIT_CHECKPOINT_KEY
    settings.AUDIT_CHECKPOINT_KEY = f"another-key-{uuid.uuid4().hex}"
    signature = checkpoints.sign(forged.fields())
    settings.AUDIT_CHECKPOINT_KEY = key
    _put(store, restores.object_name(forged), forged.fields(), signature)
    _found_and_not_taken(forged, "no valid signature")


@tampering
def test_a_signed_acknowledgement_copied_under_another_name_is_found(store):
    restore = _cut_tail_claimed_as_restore()
    other = restores.object_name(restores.Restore(**{**restore.fields(), "position": 2}))
    _put(store, other, restore.fields(), checkpoints.sign(restore.fields()))
    _found_and_not_taken(restore, "no valid signature")


@tampering
def test_a_deleted_acknowledgement_is_found(store):
    _checkpointed(3)
    _events(2)
    assert tasks.checkpoint() == 5
    _back_to(3)
    _acknowledge()
    [restore], _ = restores.read()
    store.remove_object(django_settings.S3_BUCKETS["audit"], restore.key)  # a delete marker only
    report = checkpoints.verify()
    assert "delete marker" in report.reason and "restore acknowledgement" in report.reason


@tampering
def test_a_signed_acknowledgement_whose_hash_is_not_the_chains_is_found(store):
    """Even with the key: the acknowledged end must be the chain's own position and hash."""
    restore = _cut_tail_claimed_as_restore(hash="f" * 64)
    checkpoints.put_signed(restores.object_name(restore), restore.fields())
    report = checkpoints.verify()
    assert report.broken_at == 3 and "differs from the restore of" in report.reason


@tampering
def test_a_signed_acknowledgement_dated_in_the_future_is_found(store):
    """Even with the key: dated a year ahead it would cover the checkpoints of that year; the store's own
    time of writing it gives it away."""
    restore = _cut_tail_claimed_as_restore(acknowledged_at=(timezone.now() + timedelta(days=365)).isoformat())
    checkpoints.put_signed(restores.object_name(restore), restore.fields())
    _found_and_not_taken(restore, "its date was forged")


@tampering
def test_a_restore_that_does_not_verify_is_not_acknowledged(store):
    _checkpointed(3)
    _events(2)
    assert tasks.checkpoint() == 5
    _back_to(3)
    first = AuditSeal.objects.get(position=1).event_id
    with _triggers_dropped():
        _sql("UPDATE audit_auditevent SET patient_id = 'someone-else' WHERE id = %s", [first])
    with pytest.raises(CommandError, match="does not verify"):
        _acknowledge()
    with pytest.raises(CommandError, match="say why"):
        call_command("audit_acknowledge_restore", "--reason", " ", "--backup", BACKUP)
    assert restores.read()[0] == []
