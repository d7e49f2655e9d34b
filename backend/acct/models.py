from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """A person or service account. Custom from the first migration so roles can be added without
    swapping the user model later (see ARCHITECTURE.md, Roles)."""

    class Meta(AbstractUser.Meta):
        db_table = "acct_user"
