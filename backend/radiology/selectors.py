"""Reads for clinical staff (the API checks the role first). Every read of patient data is audited with
the patient it concerns. Nothing here writes: images rendered and cached on a miss are services'."""

import functools
import operator
from datetime import date

from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.utils.translation import gettext as _

from audit.client import AuditClient
from audit.models import Action
from core.errors import NotFound
from core.http import ExternalNotFound
from core.queries import narrowed
from emr.models import Patient
from radiology.clients.orthanc_client import get_orthanc_client

from .models import Order, Series, Study


def _patient_id(obj) -> str:
    return obj.patient.emr_uuid if obj.patient_id else ""


def order_list(*, user, patient: str = "", status: str = "") -> QuerySet[Order]:
    orders = narrowed(Order.objects.select_related("patient", "ordered_by"), patient__emr_uuid=patient, status=status)
    AuditClient.log_list_read(
        user=user,
        resource_type="radiology_order_list",
        patient_id=patient,
        filters={"patient": patient, "status": status},
    )
    return orders


def order_get(*, user, pk: int) -> Order:
    order = Order.objects.select_related("patient", "ordered_by").filter(pk=pk).first()
    if order is None:
        raise NotFound(_("No order %(id)s.") % {"id": pk})
    AuditClient.log_event(
        Action.READ, actor=user, resource_type="radiology_order", resource_id=pk, patient_id=_patient_id(order)
    )
    return order


def study_list(
    *,
    user,
    patient: str = "",
    modality: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
    order: int | None = None,
    status: str = "",
) -> QuerySet[Study]:
    studies = narrowed(
        Study.objects.select_related("patient", "order"),
        patient__emr_uuid=patient,
        modality__icontains=modality,
        study_date__gte=date_from,
        study_date__lte=date_to,
        order_id=order,
        status=status,
    )
    filters = {
        "patient": patient,
        "modality": modality,
        "order": order,
        "status": status,
        "date_from": date_from,
        "date_to": date_to,
    }
    AuditClient.log_list_read(user=user, resource_type="radiology_study_list", patient_id=patient, filters=filters)
    return studies


def study_get(*, user, pk: int, with_instances: bool = False) -> Study:
    """The study with its series; with_instances adds each series' Orthanc instance ids (one PACS call) and
    `in_pacs`: False when Orthanc no longer holds the study (deleted there, or a database shared with
    another PACS), then the row's own fields are answered with no instances."""
    study = Study.objects.select_related("patient", "order").filter(pk=pk).first()
    if study is None:
        raise NotFound(_("No study %(id)s.") % {"id": pk})
    AuditClient.log_event(
        Action.READ, actor=user, resource_type="radiology_study", resource_id=pk, patient_id=_patient_id(study)
    )
    study.series_list = list(study.series.all())
    if with_instances:
        try:
            listed = get_orthanc_client().list_series(study.orthanc_id)
        except ExternalNotFound:
            listed = []
        study.in_pacs = bool(listed)
        remote = {item["ID"]: item.get("Instances", []) for item in listed}
        for series in study.series_list:
            series.instances = remote.get(series.orthanc_id, [])
    return study


# --- reconciliation (RIB, ADMIN read-only) --------------------------------------------------------------
NEEDS_RECONCILIATION = (Study.Status.RECONCILE, Study.Status.CONFLICT)
MAX_CANDIDATES = 10


def reconciliation_list(*, user, status: str = "") -> QuerySet[Study]:
    """Studies in RECONCILE or CONFLICT (or the one status asked), newest first; `reconciliation_details`
    completes the page that is answered."""
    studies = Study.objects.filter(status__in=[status] if status else NEEDS_RECONCILIATION)
    AuditClient.log_list_read(user=user, resource_type="radiology_reconciliation_list", filters={"status": status})
    return studies.select_related("conflicting_with__patient").order_by("-created_at", "-id")


def reconciliation_get(*, user, pk: int) -> Study:
    """One study as the reconciliation page shows it (any status: after a link it reads LINKED)."""
    study = Study.objects.select_related("patient", "conflicting_with__patient").filter(pk=pk).first()
    if study is None:
        raise NotFound(_("No study %(id)s.") % {"id": pk})
    reconciliation_details([study])
    holder = study.conflicting_with
    concerned = study.patient or (holder.patient if holder else None)
    AuditClient.log_event(
        Action.READ, actor=user, resource_type="radiology_reconciliation", resource_id=pk,
        patient_id=concerned.emr_uuid if concerned else "",
        detail={"candidates": [patient.emr_uuid for patient in study.candidates]},
    )  # fmt: skip
    return study


def reconciliation_details(studies) -> list[Study]:
    """Each study with its first series (for the thumbnail) and its candidate EMR patients."""
    for study in studies:
        study.first_series = study.series.order_by("series_number", "id").first()
        study.candidates = candidates(study)
    return list(studies)


def candidates(study: Study) -> list[Patient]:
    """Cached EMR patients whose record number is the DICOM PatientID, or whose name or birth date is the
    DICOM one; each with `matched_on`, best matches first."""
    tests = {
        "patient_id": Q(mrn=study.dicom_patient_id) if study.dicom_patient_id else None,
        "name": _name_query(study.dicom_patient_name),
        "birth_date": Q(birth_date=study.dicom_birth_date) if study.dicom_birth_date else None,
    }
    tests = {name: test for name, test in tests.items() if test is not None}
    if not tests:
        return []
    annotations = {f"m_{name}": ExpressionWrapper(test, output_field=BooleanField()) for name, test in tests.items()}
    found = Patient.objects.filter(functools.reduce(operator.or_, tests.values())).annotate(**annotations)
    people = list(found[: MAX_CANDIDATES * 5])
    for person in people:
        person.matched_on = [name for name in tests if getattr(person, f"m_{name}")]
    people.sort(key=lambda person: (-len(person.matched_on), person.family_name, person.given_name, person.pk))
    return people[:MAX_CANDIDATES]


def _name_query(dicom_name: str) -> Q | None:
    """DICOM PN: FAMILY^GIVEN^..., up to three '='-separated groups (alphabetic, ideographic, phonetic)."""
    query = None
    for group in dicom_name.split("="):
        family, _, rest = group.partition("^")
        given = rest.split("^")[0].strip()
        if family.strip():
            test = Q(family_name__iexact=family.strip(), given_name__iexact=given)
            query = test if query is None else query | test
    return query


def series_get(*, study: Study, series_pk: int) -> Series:
    series = study.series.filter(pk=series_pk).first()
    if series is None:
        raise NotFound(_("No series %(series)s in study %(study)s.") % {"series": series_pk, "study": study.pk})
    return series
