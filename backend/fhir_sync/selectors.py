"""Reads of the FHIR sync's state, for ADMIN only (callers check the role)."""

from .models import DeadLetter, FhirMapping


def dead_letter_list(*, user, status: str | None = None, entity_type: str | None = None):
    letters = DeadLetter.objects.all()
    if status:
        letters = letters.filter(status=status)
    if entity_type:
        letters = letters.filter(entity_type=entity_type)
    return letters.order_by("-created_at", "-id")


def dead_letter_get(*, user, pk: int) -> DeadLetter:
    return DeadLetter.objects.get(pk=pk)


def mapping_list(*, user, entity_type: str | None = None):
    mappings = FhirMapping.objects.all()
    if entity_type:
        mappings = mappings.filter(entity_type=entity_type)
    return mappings.order_by("-synced_at", "-id")
