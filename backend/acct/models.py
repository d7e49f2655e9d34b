from functools import cached_property

from django.contrib.auth.models import AbstractUser, Group
from django.db import connection, models

from .roles import Role


class User(AbstractUser):
    """A person or a service account. Roles are the user's groups named after `Role` values."""

    is_service_account = models.BooleanField(
        default=False, help_text="A machine caller (the ai-server, an integration): token only, never a password."
    )

    class Meta(AbstractUser.Meta):
        db_table = "acct_user"

    @cached_property
    def roles(self) -> frozenset[str]:
        return frozenset(self.groups.filter(name__in=Role.values).values_list("name", flat=True))

    @classmethod
    def roles_sql(cls, user_id: int) -> tuple[str, list]:
        """`roles` of the user with this id as one SQL expression and its parameters: a JSON array of the
        role names, sorted ([] for none). audit.client embeds it in an event's INSERT, so recording the
        actor's roles costs the request no query of its own."""
        quote = connection.ops.quote_name
        name, groups, members = quote("name"), quote(Group._meta.db_table), quote(cls.groups.through._meta.db_table)
        names = ", ".join(["%s"] * len(Role.values))
        # the models' own quoted table and column names; every value is a parameter
        sql = (
            f"COALESCE((SELECT JSON_ARRAYAGG(g.{name} ORDER BY g.{name}) FROM {groups} g"  # noqa: S608
            f" JOIN {members} m ON m.{quote('group_id')} = g.{quote('id')}"
            f" WHERE m.{quote('user_id')} = %s AND g.{name} IN ({names})), '[]')"
        )
        return sql, [user_id, *Role.values]

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))
