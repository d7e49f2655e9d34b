"""Writes of the tumour board: the PDF export (audited as an EXPORT of the patient's data) and the share,
which keeps the PDF as a BoardReport and queues it for the FHIR server through the outbox (fhir_sync:
a DiagnosticReport with the PDF in presentedForm)."""

import hashlib
from dataclasses import dataclass

from django.db import transaction

from ai import selectors as ai_selectors
from audit.client import AuditClient
from audit.models import Action
from core import outbox
from core.errors import NotFound
from core.http import ExternalSystemError
from core.messaging import names
from emr.models import Patient

from . import pdf, selectors
from .models import BoardReport

MAX_IMAGE_BYTES = 4 * 1024 * 1024  # an overlay PNG is tens of kB; never more than this in a PDF
FHIR_ENTITY = "board.report"  # the entity type fhir_sync registers for BoardReport


@dataclass(frozen=True)
class BoardPdf:
    data: bytes
    filename: str
    summary: dict


def _username(user) -> str:
    return getattr(user, "username", "") or str(user)


def _overlay_png(*, user, summary: dict) -> bytes | None:
    """The overlay image the summary names, read from object storage through the AI app (which checks the
    bucket and audits the read); None when there is none or it cannot be read: the PDF then says so."""
    overlay = (summary["imaging"] or {}).get("overlay") or {}
    name = (overlay.get("url") or "").rsplit("/", 1)[-1]
    if not name:
        return None
    try:
        artifact = ai_selectors.artifact_open(user=user, job_pk=overlay["job_id"], name=name)
    except (NotFound, ExternalSystemError):
        return None
    try:
        return b"".join(artifact.chunks())[:MAX_IMAGE_BYTES]
    finally:
        artifact.close()


def _render(*, user, patient: Patient, language: str) -> BoardPdf:
    summary = selectors.summary_for(patient)
    overlay = _overlay_png(user=user, summary=summary)
    data = pdf.render(summary, language=language, author=_username(user), overlay_png=overlay)
    filename = f"tumour-board-{patient.mrn or patient.emr_uuid}-{summary['generated_at'][:10]}.pdf"
    return BoardPdf(data, filename, summary)


def board_pdf(*, user, patient: Patient, language: str) -> BoardPdf:
    """The summary's PDF for download."""
    document = _render(user=user, patient=patient, language=language)
    AuditClient.log_event(
        Action.EXPORT,
        actor=user,
        resource_type="patient_board_pdf",
        resource_id=patient.emr_uuid,
        patient_id=patient.emr_uuid,
        detail={"language": language, "bytes": len(document.data), "sha256": hashlib.sha256(document.data).hexdigest()},
    )
    return document


def board_share(*, actor, patient: Patient, language: str) -> BoardReport:
    """Keep the PDF and queue its DiagnosticReport for the FHIR server (sent after commit; the outbox relay
    sends it later if RabbitMQ is away). The PDF is made before the transaction: it reads the EMR."""
    document = _render(user=actor, patient=patient, language=language)
    with transaction.atomic():
        report = BoardReport.objects.create(
            patient=patient,
            created_by=actor,
            language=language,
            pdf=document.data,
            sha256=hashlib.sha256(document.data).hexdigest(),
            pending_signoffs=len(document.summary["pending_signoffs"]),
            summary=document.summary,
        )
        AuditClient.log_event(
            Action.EXPORT,
            actor=actor,
            resource_type="board_report",
            resource_id=report.pk,
            patient_id=patient.emr_uuid,
            detail={"to": "fhir", "language": language, "bytes": len(document.data), "sha256": report.sha256},
        )
        outbox.enqueue_task(names.FHIR_SYNC_TASK, FHIR_ENTITY, str(report.pk))  # fhir_sync.transforms.board_report
    return report
