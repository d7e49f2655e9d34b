from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from audit.client import AuditClient
from audit.models import Action

from .models import User
from .services import sync_staff_flag


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """ADMIN assigns roles here: a role is a group named after it (see acct.roles)."""

    list_display = ("username", "first_name", "last_name", "role_list", "is_service_account", "is_active")
    list_filter = ("groups", "is_service_account", "is_active")
    fieldsets = (*DjangoUserAdmin.fieldsets, ("Service account", {"fields": ("is_service_account",)}))

    @admin.display(description="roles")
    def role_list(self, user: User) -> str:
        return ", ".join(sorted(user.roles))

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        user = form.instance
        sync_staff_flag(user)
        AuditClient.log_event(
            Action.UPDATE if change else Action.CREATE,
            actor=request.user,
            resource_type="user",
            resource_id=user.pk,
            detail={"via": "admin", "username": user.get_username(), "roles": sorted(user.roles)},
        )
