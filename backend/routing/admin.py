"""Django admin of the rules: saves and deletes go through the services, so they are versioned and audited
like the API's."""

from django.contrib import admin

from audit.admin import AuditedReadAdmin

from . import services
from .models import RoutingRule, RoutingRuleVersion, RuleApplication


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = ("name", "enabled", "order", "modality", "sequence_type", "series_description", "body_part",
                    "sending_ae", "model_name", "model_version", "requires_second_reader")  # fmt: skip
    list_filter = ("enabled",)
    search_fields = ("name", "model_name")

    def save_model(self, request, obj, form, change):
        fields = obj.snapshot()
        if change:
            services.rule_update(actor=request.user, rule=obj, **fields)
        else:
            obj.pk = services.rule_create(actor=request.user, **fields).pk

    def delete_model(self, request, obj):
        services.rule_delete(actor=request.user, rule=obj)

    def delete_queryset(self, request, queryset):
        for rule in queryset:
            services.rule_delete(actor=request.user, rule=rule)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(RoutingRuleVersion)
class RoutingRuleVersionAdmin(ReadOnlyAdmin):
    list_display = ("rule_pk", "number", "change", "changed_by", "changed_at")
    list_filter = ("change",)


@admin.register(RuleApplication)
class RuleApplicationAdmin(AuditedReadAdmin, ReadOnlyAdmin):
    audit_patient = "study__patient__emr_uuid"
    list_display = ("study", "model_name", "model_version", "rule", "job", "created_at")
    raw_id_fields = ("study", "rule", "job")
