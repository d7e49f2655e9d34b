"""What every Django admin page that shows patient data shares: each view of it is an audited READ."""

from django.contrib.admin.utils import unquote

from audit.client import AuditClient
from audit.models import Action


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
