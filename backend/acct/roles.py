from django.db import models


class Role(models.TextChoices):
    """The roles of the design. A user may hold several; each is a Django group of the same name, so
    ADMIN manages them in Django admin and a role can carry Django permissions."""

    DOCTOR = "DOCTOR", "Doctor (clinician)"
    RIB = "RIB", "Radiology staff (radiologist, radiographer)"
    # Held together with RIB by licensed radiologists only: approving, rejecting and amending AI results
    # (docs/adr/0010-radiologist-sign-off.md). Radiographers hold RIB alone.
    RADIOLOGIST = "RADIOLOGIST", "Radiologist (signs off AI results)"
    NURSE = "NURSE", "Nurse"
    ADMIN = "ADMIN", "Administrator"
    OPS = "OPS", "Operations (metrics and system health, no patient data)"
    SERVICE = "SERVICE", "Service account (machine caller)"


CLINICAL_ROLES = frozenset({Role.DOCTOR, Role.RIB, Role.NURSE})
