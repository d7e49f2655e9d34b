"""What the EHRs told the service about its cards (CDS Hooks feedback)."""

from django.db import models


class CardFeedback(models.Model):
    """One outcome of one card as the EHR reported it. The same report may arrive twice (the EHR retries):
    it is kept once (the unique constraint), so feedback is idempotent."""

    class Outcome(models.TextChoices):
        ACCEPTED = "accepted"
        OVERRIDDEN = "overridden"

    service_id = models.CharField(max_length=64)
    card_uuid = models.CharField(max_length=64)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    outcome_timestamp = models.DateTimeField()
    accepted_suggestions = models.JSONField(default=list, blank=True)
    override_reason = models.JSONField(default=dict, blank=True)
    issuer = models.CharField(max_length=255)
    patient_id = models.CharField(max_length=64, blank=True, help_text="the EMR uuid the card was about")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "cds_hooks_card_feedback"
        constraints = [
            models.UniqueConstraint(
                fields=("service_id", "card_uuid", "outcome", "outcome_timestamp"), name="cds_feedback_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.service_id}:{self.card_uuid} {self.outcome}"
