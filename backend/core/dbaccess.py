"""The application's rights in the database, granted table by table (docs/security.md, "Database accounts").

The processes connect as an account whose only rights come from one MariaDB role (DATABASE_APP_ROLE,
created with the accounts by scripts/services.sh or the compose init script). Migrations run as the owner
account, and after each migrate `grants_apply` gives that role:
- `audit_*` tables: SELECT and INSERT only, so no process can edit, delete or TRUNCATE the audit trail;
- `django_migrations`: SELECT only (the schema's history is the owner's);
- every other table: SELECT, INSERT, UPDATE, DELETE.
Never ALTER, DROP, CREATE, INDEX, TRIGGER or GRANT: the application cannot change the schema or its triggers.
"""

import logging
from urllib.parse import quote

from django.conf import settings
from django.db import DatabaseError, connections

log = logging.getLogger(__name__)

ROW_RIGHTS = "SELECT, INSERT, UPDATE, DELETE"
RIGHTS_BY_PREFIX = (("audit_", "SELECT, INSERT"), ("django_migrations", "SELECT"))
NO_SUCH_GRANT = 1147  # MariaDB: REVOKE of a grant that does not exist


def connection_url(using: str = "default", *, port: int | None = None, name: str | None = None) -> str:
    """The mysql:// URL of a connection's account and database (`port`, `name`: reach it another way)."""
    db = connections[using].settings_dict
    user, password = quote(db["USER"], safe=""), quote(db["PASSWORD"], safe="")
    return f"mysql://{user}:{password}@{db['HOST'] or '127.0.0.1'}:{port or db['PORT'] or 3306}/{name or db['NAME']}"


def process_env(using: str = "default", **reach) -> dict[str, str]:
    """Environment for a process started by a test or benchmark: the same account and database as this one
    (both URLs, since the test settings take the owner's before the application's)."""
    url = connection_url(using, **reach)
    return {"DATABASE_URL": url, "DATABASE_OWNER_URL": url}


def table_rights(table: str) -> str:
    """The privileges the application's role holds on `table`."""
    return next((rights for prefix, rights in RIGHTS_BY_PREFIX if table.startswith(prefix)), ROW_RIGHTS)


def runs_as_owner(using: str = "default") -> bool:
    """True unless this process connects as the application account itself (then it cannot grant)."""
    return connections[using].settings_dict["USER"] != settings.DATABASE_APP_USER


def grants_apply(*, using: str = "default") -> int:
    """Give the application's role exactly `table_rights` on every table of the connected database (its
    earlier rights are revoked first, so a narrowed rule takes effect). Returns the number of tables."""
    role = settings.DATABASE_APP_ROLE
    connection = connections[using]
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        for table in tables:
            target = f"{quote(connection.settings_dict['NAME'])}.{quote(table)}"
            try:
                cursor.execute(f"REVOKE ALL PRIVILEGES ON {target} FROM {quote(role)}")
            except DatabaseError as error:
                if error.args[0] != NO_SUCH_GRANT:
                    raise
            cursor.execute(f"GRANT {table_rights(table)} ON {target} TO {quote(role)}")
    return len(tables)


def grants_after_migrate(sender, using="default", plan=None, **kwargs) -> None:
    """post_migrate receiver: new tables get their grants right after the migrate that made them. `flush`
    sends post_migrate too, without a plan: nothing changed then."""
    if plan is None:
        return
    if not runs_as_owner(using):
        log.warning("migrated as the application account %s: grants left as they were", settings.DATABASE_APP_USER)
        return
    count = grants_apply(using=using)
    log.info("granted the role %s its rights on %d tables", settings.DATABASE_APP_ROLE, count)
