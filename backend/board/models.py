"""A tumour-board summary as it was shared: the PDF sent to the FHIR server (a DiagnosticReport whose
presentedForm carries it) and the figures it was made from. The summary itself is never stored: it is
read fresh from its sources each time (board.selectors)."""

from django.conf import settings
from django.db import models
from django.utils import translation
from django.utils.translation import pgettext

from emr.models import Patient


class BoardReport(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="board_reports")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    language = models.CharField(max_length=8, help_text="the PDF's language (BCP 47): ko or en")
    pdf = models.BinaryField(help_text="the PDF as shared (tens of kB: the font is embedded as a subset)")
    sha256 = models.CharField(max_length=64)
    pending_signoffs = models.PositiveIntegerField(
        default=0, help_text="PRELIMINARY results when it was made: the report is `partial` while any are pending"
    )
    summary = models.JSONField(default=dict, help_text="the figures the PDF shows, as the summary API gave them")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "board_report"
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"tumour-board report {self.pk} of {self.patient_id} ({self.language})"

    # --- what the FHIR transform reads (fhir_sync.transforms.board_report) --------------------------------
    @property
    def title(self) -> str:
        with translation.override(self.language):  # the PDF's own title, in its language
            return pgettext("tumour board", "Tumour board summary")
