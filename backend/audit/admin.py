from django.contrib import admin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the trail is evidence. No add, change or delete, for anyone, superusers included."""

    list_display = (
        "occurred_at",
        "actor_username",
        "action",
        "resource_type",
        "resource_id",
        "patient_id",
        "outcome",
        "status_code",
        "source_ip",
    )
    list_filter = ("action", "outcome", "actor_type", "system")
    search_fields = ("actor_username", "patient_id", "resource_id", "request_id")
    date_hierarchy = "occurred_at"
    readonly_fields = [field.name for field in AuditEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
