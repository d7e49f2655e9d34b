"""DRF permission classes by role (the seed's names). Every API view declares one of them.

Denials are answered 403 (401 without credentials) with a JSON body and audited by the exception
handler in acct.api.exceptions.
"""

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission

from .roles import CLINICAL_ROLES, Role


class HasRole(BasePermission):
    roles: frozenset[str] = frozenset()
    message = _("Your role does not allow this.")

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_active and user.has_role(*self.roles))


def role_permission(name: str, *roles: str, message: str) -> type[HasRole]:
    return type(name, (HasRole,), {"roles": frozenset(roles), "message": message, "__module__": __name__})


IsDoctor = role_permission("IsDoctor", Role.DOCTOR, message=_("Only doctors may do this."))
IsRIB = role_permission("IsRIB", Role.RIB, message=_("Only radiology staff may do this."))
IsRadiologist = role_permission(
    "IsRadiologist", Role.RADIOLOGIST, message=_("Only radiologists may sign off AI results.")
)
IsDoctorOrRIB = role_permission(
    "IsDoctorOrRIB", Role.DOCTOR, Role.RIB, message=_("Only doctors or radiology staff may do this.")
)
IsStaffRole = role_permission("IsStaffRole", *CLINICAL_ROLES, message=_("Only clinical staff may see patient data."))
IsAdmin = role_permission("IsAdmin", Role.ADMIN, message=_("Only administrators may do this."))
IsOps = role_permission("IsOps", Role.OPS, Role.ADMIN, message=_("Only operations staff may do this."))
IsService = role_permission("IsService", Role.SERVICE, message=_("Only service accounts may call this."))


class IsAuthenticatedPerson(BasePermission):
    """Any signed-in human (service accounts excluded): for one's own session and profile."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and not user.is_service_account)
