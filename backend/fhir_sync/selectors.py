"""Reads of the FHIR sync's state, for ADMIN only (callers check the role)."""

from django.utils.translation import gettext as _

from core.errors import NotFound
from core.queries import narrowed

from .models import DeadLetter, FhirMapping


def dead_letter_list(*, user, status: str | None = None, entity_type: str | None = None):
    return narrowed(DeadLetter.objects.all(), status=status, entity_type=entity_type).order_by("-created_at", "-id")


def dead_letter_get(*, user, pk: int) -> DeadLetter:
    letter = DeadLetter.objects.filter(pk=pk).first()
    if letter is None:
        raise NotFound(_("No dead letter %(id)s.") % {"id": pk})
    return letter


def mapping_list(*, user, entity_type: str | None = None):
    return narrowed(FhirMapping.objects.all(), entity_type=entity_type).order_by("-synced_at", "-id")
