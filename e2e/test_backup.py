"""Backups that restore: the running stack's database is dumped by backup/backup.sh, encrypted to the
backup public key, copied to the off-site store, restored by backup/restore.sh into a scratch database and
compared table by table (row counts and checksums) and by its audit chain; damaged backups and the wrong
key are refused; the weekly object-storage copy is encrypted and restores objects; retention prunes; the
restore drill (make restore-drill) restores the newest backup and measures RTO and RPO; the schedule runs
as a supervised process and each step is recorded in /metrics for the BackupTooOld/BackupFailed alerts."""

import datetime
import gzip
import hashlib
import importlib.util
import io
import os
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pymysql
import pytest
import requests
from minio import Minio
from minio.error import S3Error

ROOT = Path(__file__).resolve().parents[1]
SCRATCH = "test_cdss_restore_e2e"  # the owner account may create test_<db>* databases
SCRATCH_AGAIN = SCRATCH + "_again"
IDENTITY = ROOT / "var" / "offsite" / "backup-identity.txt"  # the local run's "off-site" private key
METRICS = "http://127.0.0.1:8002/metrics"  # nginx's loopback listener, as the local Prometheus scrapes
AGE_HEADER = b"age-encryption.org/v1"


def run(*args, env, check=True):
    result = subprocess.run(  # noqa: S603 (our own scripts)
        [str(ROOT / "backup" / args[0]), *args[1:]], env=env, capture_output=True, text=True, timeout=600
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def script_env(env):
    child = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    return {**child, "BACKUP_DIR": str(ROOT / "var" / "backups-e2e")}


@pytest.fixture(scope="module")
def db(env):
    url = urlsplit(env["DATABASE_OWNER_URL"])
    connection = pymysql.connect(
        host=url.hostname,
        port=url.port or 3306,
        user=unquote(url.username),
        password=unquote(url.password),
        charset="utf8mb4",
        autocommit=True,
    )
    yield connection, url.path.lstrip("/")
    with connection.cursor() as cursor:
        for name in (SCRATCH, SCRATCH_AGAIN, SCRATCH + "_s3", SCRATCH + "_offsite"):
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
    connection.close()


def table_facts(connection, database):
    facts = {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
            "AND table_type = 'BASE TABLE' ORDER BY table_name",
            [database],
        )
        for (table,) in cursor.fetchall():
            cursor.execute(f"SELECT COUNT(*) FROM `{database}`.`{table}`")  # noqa: S608 (names from the catalogue)
            count = cursor.fetchone()[0]
            cursor.execute(f"CHECKSUM TABLE `{database}`.`{table}`")
            facts[table] = (count, cursor.fetchone()[1])
    return facts


@pytest.fixture(scope="module")
def backup(script_env):
    shutil.rmtree(script_env["BACKUP_DIR"], ignore_errors=True)
    started = time.monotonic()
    result = run("backup.sh", env=script_env)
    elapsed = time.monotonic() - started
    path = Path(result.stdout.strip().splitlines()[-1])
    print(f"\nbackup of the demo database: {elapsed:.2f} s, {path.stat().st_size} bytes")
    return path


def decrypt(path: Path, identity: Path = IDENTITY) -> bytes:
    command = ["age", "-d", "-i", str(identity), str(path)]
    return subprocess.run(command, capture_output=True, check=True).stdout  # noqa: S603


def encrypt_to_backup_key(data: bytes, env) -> bytes:
    recipients = ROOT / env.get("BACKUP_AGE_RECIPIENTS_FILE", "var/backup-recipients.txt")
    return subprocess.run(["age", "-R", str(recipients)], input=data, capture_output=True, check=True).stdout  # noqa: S603,S607


def s3_client(env, account: str) -> Minio:
    # The off-site store has an endpoint of its own when OFFSITE_S3_ENDPOINT_URL is set.
    endpoint = env["S3_ENDPOINT_URL"]
    if account == "OFFSITE_S3":
        endpoint = env.get("OFFSITE_S3_ENDPOINT_URL") or endpoint
    url = urlsplit(endpoint)
    return Minio(
        url.netloc,
        access_key=env[f"{account}_ACCESS_KEY"],
        secret_key=env[f"{account}_SECRET_KEY"],
        secure=url.scheme == "https",
        region=env.get("S3_REGION", "us-east-1"),
    )


def read_object(s3: Minio, bucket: str, key: str) -> bytes:
    response = s3.get_object(bucket, key)
    try:
        return response.read()
    finally:
        response.close()
        response.release_conn()


def test_backup_writes_a_checksummed_complete_encrypted_dump(backup):
    assert backup.exists() and backup.name.endswith(".sql.gz.age")
    expected = (backup.parent / (backup.name + ".sha256")).read_text().split()[0]
    assert hashlib.sha256(backup.read_bytes()).hexdigest() == expected
    # Encrypted: no gzip stream, no SQL, on the disk; the private key (off the host) reads it.
    assert backup.read_bytes().startswith(AGE_HEADER) and b"INSERT INTO" not in backup.read_bytes()
    text = gzip.decompress(decrypt(backup)).decode()
    assert text.rstrip().splitlines()[-1].startswith("-- Dump completed")


def test_the_backup_is_copied_off_site_with_the_offsite_account(backup, env):
    offsite = s3_client(env, "OFFSITE_S3")
    bucket = env.get("OFFSITE_S3_BUCKET") or "cdss-offsite-backups"
    assert read_object(offsite, bucket, f"db/{backup.name}") == backup.read_bytes()
    assert (
        read_object(offsite, bucket, f"db/{backup.name}.sha256").split()[0].decode()
        == hashlib.sha256(backup.read_bytes()).hexdigest()
    )


def test_the_offsite_account_reaches_its_own_bucket_only(env):
    offsite = s3_client(env, "OFFSITE_S3")
    for bucket in ("cdss-backups", "ai-artifacts", "cdss-audit"):
        with pytest.raises(S3Error) as refused:
            list(offsite.list_objects(env.get("S3_BUCKET_PREFIX", "") + bucket))
        assert refused.value.code == "AccessDenied", bucket


def test_restore_from_the_offsite_copy(backup, script_env, db):
    result = run(
        "restore.sh", "--from-storage", backup.name, "--offsite", "--database", SCRATCH + "_offsite", "--yes",
        env=script_env,
    )  # fmt: skip
    assert "every table as in the dump" in result.stdout and "audit chain intact" in result.stdout


def test_the_wrong_private_key_is_refused(backup, script_env, tmp_path):
    stranger = tmp_path / "stranger.txt"
    subprocess.run(["age-keygen", "-o", str(stranger)], capture_output=True, check=True)  # noqa: S603,S607
    result = run(
        "restore.sh", str(backup), "--identity", str(stranger), "--database", SCRATCH, "--yes",
        env=script_env, check=False,
    )  # fmt: skip
    assert result.returncode != 0 and "cannot be decrypted" in result.stderr


def test_restore_into_a_scratch_database_matches_table_by_table(backup, script_env, db):
    connection, live = db
    started = time.monotonic()
    result = run("restore.sh", str(backup), "--database", SCRATCH, "--yes", env=script_env)
    print(
        f"\nrestore into {SCRATCH}: {time.monotonic() - started:.2f} s (checks and audit-chain verification included)"
    )
    assert "audit chain intact" in result.stdout + result.stderr
    restored, current = table_facts(connection, SCRATCH), table_facts(connection, live)
    assert restored.keys() == current.keys()
    assert restored["audit_auditevent"][0] > 0, "the demo data has an audit trail"
    # The live database keeps changing (audit trail, tokens, periodic tasks): the accounts do not.
    assert restored["acct_user"] == current["acct_user"]

    # Lossless round trip, table by table: back up the restored database, restore that copy, and
    # compare every table's row count and CHECKSUM TABLE (nothing writes to these two).
    again = run("backup.sh", "--database", SCRATCH, "--no-upload", env=script_env)
    second = Path(again.stdout.strip().splitlines()[-1])
    run("restore.sh", str(second), "--database", SCRATCH_AGAIN, "--yes", env=script_env)
    assert table_facts(connection, SCRATCH_AGAIN) == restored


def _copy(backup, tmp_path):
    copy = tmp_path / backup.name
    shutil.copy(backup, copy)
    return copy


def _seal(path):
    path.with_name(path.name + ".sha256").write_text(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}\n")


def test_a_corrupt_backup_is_refused(backup, script_env, tmp_path):
    copy = _copy(backup, tmp_path)
    shutil.copy(backup.with_name(backup.name + ".sha256"), tmp_path)
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    result = run("restore.sh", str(copy), "--database", SCRATCH, "--yes", env=script_env, check=False)
    assert result.returncode != 0 and "does not match its sha256" in result.stderr


def test_a_backup_without_its_checksum_is_refused(backup, script_env, tmp_path):
    copy = _copy(backup, tmp_path)
    result = run("restore.sh", str(copy), "--database", SCRATCH, "--yes", env=script_env, check=False)
    assert result.returncode != 0 and "checksum file" in result.stderr


def test_a_truncated_or_partial_backup_is_refused_even_with_a_matching_checksum(backup, script_env, env, tmp_path):
    truncated = _copy(backup, tmp_path)  # cut in its encrypted form: age's authentication refuses it
    truncated.write_bytes(backup.read_bytes()[: backup.stat().st_size // 2])
    _seal(truncated)
    result = run("restore.sh", str(truncated), "--database", SCRATCH, "--yes", env=script_env, check=False)
    assert result.returncode != 0 and "cannot be decrypted" in result.stderr

    cut_gzip = tmp_path / "gzip" / backup.name  # a gzip stream cut before it was encrypted
    cut_gzip.parent.mkdir()
    plain = decrypt(backup)
    cut_gzip.write_bytes(encrypt_to_backup_key(plain[: len(plain) // 2], env))
    _seal(cut_gzip)
    result = run("restore.sh", str(cut_gzip), "--database", SCRATCH, "--yes", env=script_env, check=False)
    assert result.returncode != 0 and "not a complete gzip" in result.stderr

    partial = tmp_path / "partial" / backup.name
    partial.parent.mkdir()
    lines = gzip.decompress(plain).splitlines(keepends=True)
    partial.write_bytes(encrypt_to_backup_key(gzip.compress(b"".join(lines[: len(lines) // 2])), env))
    _seal(partial)
    result = run("restore.sh", str(partial), "--database", SCRATCH, "--yes", env=script_env, check=False)
    assert result.returncode != 0 and "partial dump" in result.stderr


def test_restore_from_object_storage(backup, script_env, db):
    result = run("restore.sh", "--from-storage", backup.name, "--database", SCRATCH + "_s3", "--yes", env=script_env)
    assert "audit chain intact" in result.stdout + result.stderr


def test_restore_without_a_terminal_or_yes_changes_nothing(backup, script_env):
    result = run("restore.sh", str(backup), "--database", SCRATCH, env=script_env, check=False)
    assert result.returncode != 0 and "pass --yes" in result.stderr


def test_weekly_object_copy_is_encrypted_and_restores_a_deleted_object(env, script_env):
    s3 = s3_client(env, "S3_ADMIN")  # the admin's key: the test plants and deletes an object (no service account may)
    bucket = env.get("S3_BUCKET_PREFIX", "") + "ai-artifacts"
    key, body = f"e2e-backup/{uuid.uuid4().hex}.bin", os.urandom(4096)
    s3.put_object(bucket, key, io.BytesIO(body), len(body))
    try:
        result = run("backup.sh", "--no-upload", "--objects", env=script_env)
        stamp = next(line for line in result.stdout.splitlines() if "objects/" in line).split("objects/")[1].rstrip("/")
        backups = env.get("S3_BUCKET_PREFIX", "") + "cdss-backups"
        stored = read_object(s3, backups, f"objects/{stamp}/ai-artifacts/{key}.age")
        assert stored.startswith(AGE_HEADER) and body not in stored
        assert read_object(s3, backups, f"objects/{stamp}/manifest.json.age").startswith(AGE_HEADER)
        s3.remove_object(bucket, key)
        run("restore.sh", "--objects", stamp, "--yes", env=script_env)
        restored = s3.get_object(bucket, key)
        try:
            assert restored.read() == body
        finally:
            restored.close()
            restored.release_conn()
    finally:
        s3.remove_object(bucket, key)


def test_retention_prunes_old_backups_locally_and_in_the_bucket(script_env, env):
    # Locally: a dump older than BACKUP_RETENTION_DAYS goes at the next backup, a recent one stays.
    directory = Path(script_env["BACKUP_DIR"])
    old, recent = directory / "cdss-20000101T000000Z.sql.gz.age", directory / "cdss-20000102T000000Z.sql.gz.age"
    for path in (old, recent):
        path.write_bytes(b"x")
    eight_days_ago = time.time() - 8 * 86400
    os.utime(old, (eight_days_ago, eight_days_ago))
    run("backup.sh", "--no-upload", env={**script_env, "BACKUP_RETENTION_DAYS": "7"})
    assert not old.exists() and recent.exists()
    recent.unlink()

    # In the bucket (as the backup account): objects older than the given days go, newer ones stay.
    s3 = s3_client(env, "BACKUP_S3")
    bucket, key = env.get("S3_BUCKET_PREFIX", "") + "cdss-backups", f"retention-e2e/{uuid.uuid4().hex}"
    s3.put_object(bucket, key, io.BytesIO(b"x"), 1)
    store = [str(ROOT / "backend" / ".venv" / "bin" / "python"), str(ROOT / "backup" / "store.py")]
    account = {**env, "S3_ACCESS_KEY": env["BACKUP_S3_ACCESS_KEY"], "S3_SECRET_KEY": env["BACKUP_S3_SECRET_KEY"]}
    subprocess.run([*store, "prune", "retention-e2e/", "1"], env=account, check=True, timeout=60)  # noqa: S603
    assert [o.object_name for o in s3.list_objects(bucket, prefix="retention-e2e/")] == [key]
    time.sleep(2)
    command = [*store, "prune", "retention-e2e/", "0.00001"]
    pruned = subprocess.run(command, env=account, capture_output=True, text=True, check=True, timeout=60)  # noqa: S603
    assert key in pruned.stdout and not list(s3.list_objects(bucket, prefix="retention-e2e/"))


def test_restore_drill_restores_the_newest_backup_and_measures_rto_and_rpo(backup, script_env, env):
    s3 = s3_client(env, "S3_ADMIN")  # an object in the copy, so that the drill has checksums to verify
    bucket, key, body = (
        env.get("S3_BUCKET_PREFIX", "") + "ai-artifacts",
        f"e2e-drill/{uuid.uuid4().hex}",
        os.urandom(2048),
    )
    s3.put_object(bucket, key, io.BytesIO(body), len(body))
    try:
        run("backup.sh", "--objects", env=script_env)  # the newest dump and object copy, as the schedule makes them
    finally:
        s3.remove_object(bucket, key)
    for where in ((), ("--offsite",)):
        result = run("restore_drill.sh", *where, env=script_env)
        line = result.stdout.strip().splitlines()[-1]
        print(f"\n{' '.join(where) or 'backups bucket'}: {line}")
        figures = re.search(r"RESTORE DRILL PASSED: RTO ([0-9.]+) s, RPO ([0-9]+) s .* ([0-9]+) objects", line)
        assert figures, result.stdout + result.stderr
        rto, rpo, objects = float(figures.group(1)), int(figures.group(2)), int(figures.group(3))
        assert 0 < rto < 600 and 0 <= rpo < 600 and objects >= 1
        assert "every table as in the dump" in result.stdout and "audit chain intact" in result.stdout
        assert "sha256 verified" in result.stdout

    # Recorded for Prometheus: the drill's figures and each step's last success.
    metrics = requests.get(METRICS, timeout=10).text
    assert re.search(r"^cdss_backup_drill_rto_seconds [0-9.e+]+$", metrics, re.M), metrics
    for kind in ("database", "objects", "offsite", "drill"):
        match = re.search(rf'^cdss_backup_last_success_timestamp_seconds{{kind="{kind}"}} ([0-9.e+]+)$', metrics, re.M)
        assert match and time.time() - float(match.group(1)) < 900, kind


def test_a_failed_backup_is_recorded_for_the_backup_failed_alert(script_env):
    # A backups bucket the backup account may not create: the upload fails after the dump.
    result = run("backup.sh", env={**script_env, "BACKUP_BUCKET": f"no-such-{uuid.uuid4().hex[:8]}"}, check=False)
    assert result.returncode != 0
    metrics = requests.get(METRICS, timeout=10).text
    failed = re.search(r'^cdss_backup_last_failure_timestamp_seconds{kind="database"} ([0-9.e+]+)$', metrics, re.M)
    assert failed and time.time() - float(failed.group(1)) < 120, metrics
    run("backup.sh", env=script_env)  # and the next success clears it (BackupFailed compares the two)
    metrics = requests.get(METRICS, timeout=10).text
    success = re.search(r'^cdss_backup_last_success_timestamp_seconds{kind="database"} ([0-9.e+]+)$', metrics, re.M)
    assert float(success.group(1)) > float(failed.group(1))


def test_the_schedule_runs_as_a_supervised_process():
    status = subprocess.run(  # noqa: S603
        [str(ROOT / "scripts" / "ctl.sh"), "status", "backup"], capture_output=True, text=True, timeout=30
    ).stdout
    assert "RUNNING" in status, status
    spec = importlib.util.spec_from_file_location("scheduler", ROOT / "backup" / "scheduler.py")
    scheduler = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(scheduler)
    now = datetime.datetime(2026, 12, 4, 14, 0, tzinfo=datetime.UTC)  # a Friday
    assert scheduler.next_run(now, "02:15") == datetime.datetime(2026, 12, 5, 2, 15, tzinfo=datetime.UTC)
    assert scheduler.next_run(now, "15:00") == datetime.datetime(2026, 12, 4, 15, 0, tzinfo=datetime.UTC)
    assert scheduler.next_run(now, "03:00", 6) == datetime.datetime(2026, 12, 6, 3, 0, tzinfo=datetime.UTC)
