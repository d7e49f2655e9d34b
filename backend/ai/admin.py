"""Jobs and results in Django admin, read-only: every change goes through the services (audited)."""

from django.contrib import admin

from audit.admin import AuditedReadAdmin

from .models import AIJob, AIResult, AIResultRevision, ExpressionUpload


class ReadOnlyAdmin(AuditedReadAdmin, admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ResultInline(admin.StackedInline):
    model = AIResult
    fk_name = "job"
    extra = 0
    can_delete = False
    readonly_fields = (
        "status",
        "raw_metrics",
        "artifacts",
        "summary",
        "disclaimer",
        "orthanc_seg_instance_id",
        "orthanc_seg_series_uid",
        "reviewed_by",
        "review_comment",
        "reviewed_at",
        "first_reader",
        "first_read_comment",
        "first_read_at",
        "superseded_by",
        "superseded_at",
        "version",
        "amended_by",
        "amended_at",
        "amendment_reason",
        "created_at",
    )
    fields = readonly_fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AIJob)
class AIJobAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "task",
        "model_name",
        "model_version",
        "patient",
        "status",
        "attempts",
        "deadline",
        "requested_by",
        "created_at",
    )
    list_filter = ("status", "task", "model_name", "device", "created_at")
    search_fields = ("id", "model_name", "patient__mrn", "patient__emr_uuid", "requested_by__username")
    inlines = [ResultInline]


class RevisionInline(admin.TabularInline):
    """The versions amendments replaced (never changed)."""

    model = AIResultRevision
    extra = 0
    can_delete = False
    readonly_fields = (*AIResultRevision.SNAPSHOT_FIELDS, "superseded_at")
    fields = readonly_fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AIResult)
class AIResultAdmin(ReadOnlyAdmin):
    audit_patient = "job__patient__emr_uuid"
    list_display = ("id", "job", "status", "version", "summary", "reviewed_by", "reviewed_at", "created_at")
    list_filter = ("status", "created_at")
    search_fields = ("job__id", "job__patient__mrn", "summary")
    inlines = [RevisionInline]


@admin.register(ExpressionUpload)
class ExpressionUploadAdmin(ReadOnlyAdmin):
    list_display = ("id", "patient", "original_name", "size", "rows", "columns", "uploaded_by", "created_at")
    search_fields = ("id", "original_name", "patient__mrn")
