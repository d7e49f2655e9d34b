"""Django admin for ADMIN: dead letters (inspect, replay one or many, discard with a reason) and the
mapping table (read-only)."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.shortcuts import render

from audit.admin import AuditedReadAdmin

from . import services
from .models import DeadLetter, FhirMapping


@admin.register(FhirMapping)
class FhirMappingAdmin(AuditedReadAdmin, admin.ModelAdmin):
    audit_patient = ""  # rows name entities and FHIR ids, not patients
    list_display = ("entity_type", "entity_id", "resource_type", "fhir_id", "fhir_version", "synced_at")
    list_filter = ("entity_type", "resource_type")
    search_fields = ("entity_id", "fhir_id")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class DiscardForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea, max_length=2000)


@admin.register(DeadLetter)
class DeadLetterAdmin(AuditedReadAdmin, admin.ModelAdmin):
    audit_patient = ""  # the payload and the server's OperationOutcome may hold patient data
    list_display = (
        "id",
        "entity_type",
        "entity_id",
        "resource_type",
        "status",
        "http_status",
        "attempts",
        "created_at",
    )
    list_filter = ("status", "entity_type", "resource_type", "retryable")
    search_fields = ("entity_id", "reason")
    readonly_fields = [f.name for f in DeadLetter._meta.fields]
    actions = ("replay", "discard")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Replay the selected dead letters")
    def replay(self, request, queryset):
        count = services.dead_letter_replay(actor=request.user, letters=list(queryset))
        self.message_user(request, f"{count} dead letter(s) queued again.", messages.SUCCESS)

    @admin.action(description="Discard the selected dead letters (asks for a reason)")
    def discard(self, request, queryset):
        form = DiscardForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            done = 0
            for letter in queryset.filter(status=DeadLetter.Status.OPEN):
                services.dead_letter_discard(actor=request.user, letter=letter, reason=form.cleaned_data["reason"])
                done += 1
            self.message_user(request, f"{done} dead letter(s) discarded.", messages.SUCCESS)
            return None
        return render(
            request,
            "admin/fhir_sync/discard.html",
            {
                **self.admin_site.each_context(request),
                "form": form,
                "letters": queryset,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
                "title": "Discard dead letters",
            },
        )
