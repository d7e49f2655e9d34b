from functools import cached_property

from django.contrib.auth.models import AbstractUser
from django.db import models

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

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))
