from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite

from audit.client import AuditClient
from audit.models import Action, Outcome

from .models import User
from .services import group_names, otp_code_verify, otp_reset, sync_staff_flag


# Django admin asks for the second factor too: its sign-in form takes a code from the authenticator (or
# a recovery code), and a session that has not passed one (signed in before enrolling) is let in nowhere.
class AdminLoginForm(OTPAdminAuthenticationForm):
    """Username, password and one code: the code picks the device (authenticator or recovery code), so
    nobody has to choose one first (django-otp's form asks for the choice on a second round)."""

    def _verify_token(self, user, token, device=None):
        if device is not None:
            return super()._verify_token(user, token, device)
        verified = otp_code_verify(user=user, code=token)
        if verified is None:
            AuditClient.log_event(
                Action.LOGIN_FAILED,
                username=user.get_username(),
                resource_type="admin_session",
                outcome=Outcome.FAILURE,
                status_code=200,  # the form again, with the error
                detail={"reason": "wrong second-factor code"},
            )
            raise ValidationError(self.otp_error_messages["invalid_token"], code="invalid_token")
        return verified


admin.site.__class__ = OTPAdminSite
admin.site.login_form = AdminLoginForm


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """ADMIN assigns roles here: a role is a group named after it (see acct.roles).

    Only a superuser may touch superusers or the flags that grant access beyond roles: for anyone else
    is_superuser and the per-user permissions are read-only, is_staff always follows the roles
    (sync_staff_flag), and a superuser's page (password included) cannot be changed."""

    list_display = ("username", "first_name", "last_name", "role_list", "is_service_account", "is_active")
    list_filter = ("groups", "is_service_account", "is_active")
    fieldsets = (*DjangoUserAdmin.fieldsets, ("Service account", {"fields": ("is_service_account",)}))
    actions = ("reset_second_factor",)

    @admin.action(description="Remove the second factor (a lost phone): they enrol again at their next sign-in")
    def reset_second_factor(self, request, queryset):
        done = [user for user in queryset if self._may_change(request, user)]
        for user in done:
            otp_reset(actor=request.user, user=user)
        skipped = queryset.count() - len(done)
        self.message_user(request, f"{len(done)} reset; {skipped} superuser(s) left as they were (superusers only).")

    @admin.display(description="roles")
    def role_list(self, user: User) -> str:
        return ", ".join(sorted(user.roles))

    def get_readonly_fields(self, request, obj=None):
        fields = ["is_staff", "last_login", "date_joined"]
        if not request.user.is_superuser:
            fields += ["is_superuser", "user_permissions"]
        return fields

    def _may_change(self, request, obj) -> bool:
        return obj is None or request.user.is_superuser or not obj.is_superuser

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._may_change(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._may_change(request, obj)

    def save_model(self, request, obj, form, change):
        obj._groups_before = group_names(obj) if change else []
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        user = form.instance
        sync_staff_flag(user)  # flags and password: audited by acct.receivers with before and after
        before, after = user.__dict__.pop("_groups_before", []), group_names(user)
        if not change or before != after:
            AuditClient.log_event(
                Action.UPDATE if change else Action.CREATE,
                actor=request.user,
                resource_type="user_roles",
                resource_id=user.pk,
                detail={"via": "admin", "username": user.get_username(), "before": before, "after": after},
            )
