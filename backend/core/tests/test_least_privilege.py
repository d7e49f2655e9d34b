"""The application's database account cannot rewrite the audit trail or the schema (docs/security.md).

The test database is created and migrated by the owner account (cdss.settings.test); migrate grants the
application's role its rights (core.dbaccess). Here a second connection logs in as the application
account itself (DATABASE_URL) on that same database and tries what an attacker holding it would.
"""

import uuid

import pymysql
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from audit.models import AuditEvent
from cdss.settings.base import env, required
from core.dbaccess import table_rights

pytestmark = pytest.mark.django_db

DENIED = {1142, 1044, 1227}  # table command denied, database access denied, needs a privilege


@pytest.fixture
def app_db():
    """A connection as the application account to the test database, rolled back at the end."""
    account = env.db_url_config(required("DATABASE_URL"))
    assert account["USER"] != connection.settings_dict["USER"], "tests must run as the owner (DATABASE_OWNER_URL)"
    link = pymysql.connect(
        host=account["HOST"], port=int(account["PORT"] or 3306), user=account["USER"], password=account["PASSWORD"],
        database=connection.settings_dict["NAME"], charset="utf8mb4", autocommit=False,
    )  # fmt: skip
    yield link
    link.rollback()
    link.close()


def refused(link, sql: str) -> int:
    """The MariaDB error code with which `sql` was refused (fails the test when it ran)."""
    with link.cursor() as cursor, pytest.raises(pymysql.MySQLError) as caught:
        cursor.execute(sql)
    return caught.value.args[0]


def audit_tables() -> list[str]:
    return [name for name in connection.introspection.table_names() if name.startswith("audit_")]


def test_audit_tables_refuse_truncate_delete_update(app_db):
    tables = audit_tables()
    assert "audit_auditevent" in tables
    for table in tables:
        column = connection.introspection.get_table_description(connection.cursor(), table)[0].name
        for sql in (f"TRUNCATE TABLE {table}", f"DELETE FROM {table}", f"UPDATE {table} SET {column} = {column}"):  # noqa: S608
            # refused by a missing privilege, not by the audit triggers (those answer SQLSTATE 45000, 1644)
            assert refused(app_db, sql) in DENIED, sql


def test_triggers_cannot_be_dropped_or_created(app_db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT trigger_name FROM information_schema.triggers WHERE trigger_schema = DATABASE()")
        triggers = [row[0] for row in cursor.fetchall()]
    assert triggers, "the audit triggers of audit/migrations/0002 are missing"
    for name in triggers:
        assert refused(app_db, f"DROP TRIGGER {name}") in DENIED
    sql = "CREATE TRIGGER lp_probe BEFORE INSERT ON audit_auditevent FOR EACH ROW SET NEW.detail = '{}'"
    assert refused(app_db, sql) in DENIED


def test_schema_cannot_be_changed(app_db):
    for sql in (
        "ALTER TABLE acct_user ADD COLUMN lp_probe INT",
        "DROP TABLE acct_user",
        "CREATE TABLE lp_probe (id INT)",
        "TRUNCATE TABLE acct_user",
        "DELETE FROM django_migrations",
        f"GRANT SELECT ON audit_auditevent TO {settings.DATABASE_APP_ROLE}",
    ):
        assert refused(app_db, sql) in DENIED, sql


def test_audit_events_can_be_appended_and_read(app_db):
    marker = uuid.uuid4().hex
    event = AuditEvent(
        occurred_at=timezone.now(), actor_type="system", action="READ", outcome="SUCCESS", request_id=marker
    )
    fields = [field for field in AuditEvent._meta.concrete_fields if not field.primary_key]
    columns = ", ".join(field.column for field in fields)
    values = [field.get_db_prep_save(field.pre_save(event, add=True), connection) for field in fields]
    with app_db.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO audit_auditevent ({columns}) VALUES ({', '.join(['%s'] * len(fields))})",  # noqa: S608
            values,
        )
        cursor.execute("SELECT COUNT(*) FROM audit_auditevent WHERE request_id = %s", [marker])
        assert cursor.fetchone()[0] == 1


def test_other_tables_take_row_writes(app_db):
    with app_db.cursor() as cursor:
        cursor.execute("UPDATE acct_user SET last_name = last_name WHERE id = -1")
        cursor.execute("DELETE FROM acct_user WHERE id = -1")
        cursor.execute("SELECT COUNT(*) FROM django_migrations")
        assert cursor.fetchone()[0] > 0


def test_rights_by_table_name():
    assert table_rights("audit_auditevent") == "SELECT, INSERT"
    assert table_rights("audit_anything_new") == "SELECT, INSERT"
    assert table_rights("django_migrations") == "SELECT"
    assert table_rights("radiology_study") == "SELECT, INSERT, UPDATE, DELETE"
