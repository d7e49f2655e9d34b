from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission


def require_permission(codename: str) -> type[BasePermission]:
    """A DRF permission class for one Django permission ("app_label.codename"). Apps that must not know
    about roles (audit) check permissions; acct gives the permissions to role groups."""

    class HasPermission(BasePermission):
        message = _("You do not have permission to do this.")

        def has_permission(self, request, view) -> bool:
            user = request.user
            return bool(user and user.is_authenticated and user.has_perm(codename))

    HasPermission.__name__ = HasPermission.__qualname__ = f"Has_{codename.replace('.', '_')}"
    return HasPermission
