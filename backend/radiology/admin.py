from django.contrib import admin

from audit.admin import AuditedReadAdmin

from .models import FeedCheckpoint, Order, Series, Study


@admin.register(Order)
class OrderAdmin(AuditedReadAdmin, admin.ModelAdmin):
    list_display = ("accession_number", "patient", "modality", "body_part", "priority", "status", "created_at")
    list_filter = ("status", "priority", "modality")
    search_fields = ("accession_number", "patient__mrn", "patient__family_name")
    raw_id_fields = ("patient", "ordered_by")


class SeriesInline(admin.TabularInline):
    model = Series
    extra = 0
    readonly_fields = ("series_instance_uid", "orthanc_id", "modality", "series_number", "description",
                       "sequence_type", "body_part", "sending_ae", "number_of_instances")  # fmt: skip


@admin.register(Study)
class StudyAdmin(AuditedReadAdmin, admin.ModelAdmin):
    list_display = ("study_instance_uid", "patient", "status", "modality", "study_date", "number_of_instances")
    list_filter = ("status", "source", "modality")
    search_fields = ("study_instance_uid", "accession_number", "dicom_patient_id")
    raw_id_fields = ("patient", "order")
    inlines = [SeriesInline]


admin.site.register(FeedCheckpoint)
