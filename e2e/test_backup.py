"""Backups that restore: the running stack's database is dumped by backup/backup.sh, restored by
backup/restore.sh into a scratch database and compared table by table (row counts and checksums) and by
its audit chain; damaged backups are refused; the weekly object-storage copy restores objects."""

import gzip
import hashlib
import io
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pymysql
import pytest
from minio import Minio

ROOT = Path(__file__).resolve().parents[1]
SCRATCH = "test_cdss_restore_e2e"  # the owner account may create test_<db>* databases
SCRATCH_AGAIN = SCRATCH + "_again"


def run(*args, env, check=True):
    result = subprocess.run(  # noqa: S603 (our own scripts)
        [str(ROOT / "backup" / args[0]), *args[1:]], env=env, capture_output=True, text=True, timeout=300
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
        for name in (SCRATCH, SCRATCH_AGAIN, SCRATCH + "_s3"):
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


def test_backup_writes_a_checksummed_complete_dump(backup):
    assert backup.exists() and backup.name.endswith(".sql.gz")
    expected = (backup.parent / (backup.name + ".sha256")).read_text().split()[0]
    assert hashlib.sha256(backup.read_bytes()).hexdigest() == expected
    text = gzip.decompress(backup.read_bytes()).decode()
    assert text.rstrip().splitlines()[-1].startswith("-- Dump completed")


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


def test_a_truncated_or_partial_backup_is_refused_even_with_a_matching_checksum(backup, script_env, tmp_path):
    truncated = _copy(backup, tmp_path)
    truncated.write_bytes(backup.read_bytes()[: backup.stat().st_size // 2])
    _seal(truncated)
    result = run("restore.sh", str(truncated), "--database", SCRATCH, "--yes", env=script_env, check=False)
    assert result.returncode != 0 and "not a complete gzip" in result.stderr

    partial = tmp_path / "partial" / backup.name
    partial.parent.mkdir()
    lines = gzip.decompress(backup.read_bytes()).splitlines(keepends=True)
    partial.write_bytes(gzip.compress(b"".join(lines[: len(lines) // 2])))
    _seal(partial)
    result = run("restore.sh", str(partial), "--database", SCRATCH, "--yes", env=script_env, check=False)
    assert result.returncode != 0 and "partial dump" in result.stderr


def test_restore_from_object_storage(backup, script_env, db):
    result = run("restore.sh", "--from-storage", backup.name, "--database", SCRATCH + "_s3", "--yes", env=script_env)
    assert "audit chain intact" in result.stdout + result.stderr


def test_restore_without_a_terminal_or_yes_changes_nothing(backup, script_env):
    result = run("restore.sh", str(backup), "--database", SCRATCH, env=script_env, check=False)
    assert result.returncode != 0 and "pass --yes" in result.stderr


def test_weekly_object_copy_restores_a_deleted_object(env, script_env):
    url = urlsplit(env["S3_ENDPOINT_URL"])
    s3 = Minio(  # the admin's key: the test plants and deletes an object, which no service account may
        url.netloc,
        access_key=env["S3_ADMIN_ACCESS_KEY"],
        secret_key=env["S3_ADMIN_SECRET_KEY"],
        secure=url.scheme == "https",
        region=env.get("S3_REGION", "us-east-1"),
    )
    bucket = env.get("S3_BUCKET_PREFIX", "") + "ai-artifacts"
    key, body = f"e2e-backup/{uuid.uuid4().hex}.bin", os.urandom(4096)
    s3.put_object(bucket, key, io.BytesIO(body), len(body))
    try:
        result = run("backup.sh", "--no-upload", "--objects", env=script_env)
        stamp = next(line for line in result.stdout.splitlines() if "objects/" in line).split("objects/")[1].rstrip("/")
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
