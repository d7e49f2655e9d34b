"""Django admin of the audit trail, and what every admin page that shows patient data shares: each view
of it is an audited READ (AuditedReadAdmin)."""

from django.contrib import admin
from django.contrib.admin.utils import unquote

from .client import AuditClient
from .models import Action, AuditEvent


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


class AuditedReadAdmin:
    """Mixin for a ModelAdmin whose list or object pages show patient data: each page viewed is one READ
    event naming the patients on it. `audit_patient`: the lookup from a row to its patient's EMR uuid
    ("" where rows name no patient, e.g. a dead letter's payload)."""

    audit_patient = "patient__emr_uuid"

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        if request.method == "GET" and changelist is not None:
            keys = [row.pk for row in changelist.result_list]
            self._audit_read(request, "", keys, {"view": "list", "filters": request.GET.dict(), "rows": len(keys)})
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method == "GET" and response.status_code == 200:
            self._audit_read(request, unquote(object_id), [unquote(object_id)], {"view": "object"})
        return response

    def _audit_read(self, request, resource_id, keys, detail) -> None:
        patients = []
        if self.audit_patient and keys:
            rows = self.model._default_manager.filter(pk__in=keys).exclude(**{f"{self.audit_patient}__isnull": True})
            patients = sorted(set(rows.values_list(self.audit_patient, flat=True)))
        AuditClient.log_event(
            Action.READ,
            actor=request.user,
            resource_type=f"admin:{self.model._meta.label_lower}",
            resource_id=resource_id,
            patient_id=patients[0] if len(patients) == 1 else "",
            detail={"via": "admin", **detail, "patients": patients},
        )
