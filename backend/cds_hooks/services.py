"""The CDS Hooks services (HL7 CDS Hooks 2.0): what discovery lists, what each hook answers, feedback.

- `cdss-patient-view` (patient-view): cards for the patient's AI results awaiting radiology sign-off, a
  lesion-volume change past CDS_HOOKS_VOLUME_CHANGE_PERCENT on the tumour course, and the omics risk group.
- `cdss-imaging-order-select` / `cdss-imaging-order-sign` (order-select / order-sign): an MR of the brain
  ordered while a recent one exists (the CDSS's studies or the FHIR server's ImagingStudies) gets a
  warning card with a suggestion to reuse it (delete the draft order).
Every card names its source and links into the web UI. Every call is audited once with the patient.
"""

import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ai.course import AID_LABEL, DISPLAY
from ai.course import SOURCE as COURSE_SOURCE
from audit.client import AuditClient
from audit.models import Action, Outcome
from core.errors import InvalidInput, NotFound

from . import prefetch, selectors
from .auth import CdsClient
from .models import CardFeedback

PATIENT_VIEW = "cdss-patient-view"
ORDER_SELECT = "cdss-imaging-order-select"
ORDER_SIGN = "cdss-imaging-order-sign"
CARD_MEMORY_SECONDS = 30 * 24 * 3600  # a card's patient, for the audit of its feedback
OVERRIDE_SYSTEM = "urn:cdss:cds-hooks:override-reason"

SERVICES: dict[str, dict[str, Any]] = {
    PATIENT_VIEW: {
        "hook": "patient-view",
        "title": "CDSS: AI results, tumour course and omics risk",
        "description": (
            "Cards for the patient's AI results awaiting radiology sign-off, a lesion-volume change past the "
            "configured threshold on the volumetric tumour course, and the omics risk group."
        ),
        "prefetch": {"patient": prefetch.PATIENT},
    },
    ORDER_SELECT: {
        "hook": "order-select",
        "title": "CDSS: recent brain MR for a selected imaging order",
        "description": "Warns when a brain MR is selected while a recent one exists, suggesting to reuse it.",
        "prefetch": {"patient": prefetch.PATIENT, "imagingStudies": prefetch.IMAGING_STUDIES},
    },
    ORDER_SIGN: {
        "hook": "order-sign",
        "title": "CDSS: recent brain MR before an imaging order is signed",
        "description": "Warns when a brain MR is signed while a recent one exists, suggesting to reuse it.",
        "prefetch": {"patient": prefetch.PATIENT, "imagingStudies": prefetch.IMAGING_STUDIES},
    },
}


def discovery() -> dict:
    return {"services": [{"id": service_id, **service} for service_id, service in SERVICES.items()]}


def service_get(service_id: str) -> dict:
    service = SERVICES.get(service_id)
    if service is None:
        raise NotFound(_("No CDS service %(id)s.") % {"id": service_id})
    return service


# --- calls --------------------------------------------------------------------------------------------------------
def hook_call(*, service_id: str, call: dict, client: CdsClient, web_url: str, endpoint: str) -> dict:
    """The service's answer to a validated call: {"cards": [...]}. Raises prefetch.PrefetchUnavailable (412)."""
    service = service_get(service_id)
    if call["hook"] != service["hook"]:
        raise InvalidInput(_("This service answers the %(hook)s hook.") % {"hook": service["hook"]})
    context = call["context"]
    fhir_patient = context["patientId"]
    try:
        data = prefetch.gather(service["prefetch"], call=call, client=client)
    except prefetch.PrefetchUnavailable as exc:
        _audit(client, service_id, call, endpoint, None, outcome=Outcome.FAILURE, status=412, extra={"error": str(exc)})
        raise
    patient = selectors.patient_for(fhir_patient, data.get("patient"))
    links = _Links(web_url, patient)
    if service["hook"] == "patient-view":
        cards = _patient_view_cards(patient, links) if patient is not None else []
    else:
        cards = _order_cards(service["hook"], context, patient, data, links)
    _remember(cards, service_id, patient)
    _audit(client, service_id, call, endpoint, patient, extra={"cards": len(cards), "prefetch": data.sources})
    return {"cards": cards}


def _audit(client, service_id, call, endpoint, patient, *, outcome=Outcome.SUCCESS, status=200, extra=None) -> None:
    context = call.get("context") or {}
    AuditClient.log_event(
        Action.READ,
        actor=client,
        resource_type="cds_hook",
        resource_id=str(call.get("hookInstance") or "")[:64],
        patient_id=patient.emr_uuid if patient is not None else "",
        outcome=outcome,
        status_code=status,
        endpoint=endpoint,
        detail={
            "service": service_id,
            "hook": call.get("hook"),
            "issuer": client.issuer.iss,
            "tenant": client.tenant,
            "fhir_patient": str(context.get("patientId") or ""),
            "user": str(context.get("userId") or ""),
            **(extra or {}),
        },
    )


def _remember(cards: list[dict], service_id: str, patient) -> None:
    if cards:
        cache.set_many(
            {
                f"cds_hooks:card:{card['uuid']}": {
                    "service": service_id,
                    "patient": patient.emr_uuid if patient else "",
                }
                for card in cards
            },
            timeout=CARD_MEMORY_SECONDS,
        )


class _Links:
    def __init__(self, web_url: str, patient):
        self.web = web_url.rstrip("/")
        self.patient = patient

    def link(self, label: str, path: str) -> dict:
        return {"label": label, "url": f"{self.web}{path}", "type": "absolute"}

    def patient_page(self) -> dict:
        return self.link(_("Open the patient in the CDSS"), f"/patients/{self.patient.emr_uuid}")


def card(summary: str, indicator: str, source: dict, **optional: Any) -> dict:
    """A card: summary under 140 characters; empty optional fields left out (the specification's rule)."""
    text = summary if len(summary) < 140 else summary[:138] + "…"
    body = {"uuid": str(uuid.uuid4()), "summary": text, "indicator": indicator, "source": source}
    body.update({name: value for name, value in optional.items() if value})
    return body


def _source(label: str, links: _Links, path: str = "") -> dict:
    return {"label": label, "url": f"{links.web}{path}"} if links.web else {"label": label}


# --- patient-view -------------------------------------------------------------------------------------------------
def _patient_view_cards(patient, links: _Links) -> list[dict]:
    cards = []
    count, pending = selectors.pending_sign_offs(patient)
    if count:
        lines = [
            f"- {result.job.task}: {result.model_name} {result.model_version} ({result.created_at:%Y-%m-%d})"
            for result in pending
        ]
        cards.append(
            card(
                _("%(count)d AI result(s) awaiting radiology sign-off") % {"count": count},
                "info",
                _source(_("CDSS AI analyses (preliminary, not signed off)"), links, "/worklist"),
                detail="\n".join(
                    [
                        _("Preliminary AI results: not for clinical decisions until a radiologist signs them off."),
                        "",
                        *lines,
                    ]
                ),
                links=[links.link(_("Open the sign-off worklist"), "/worklist"), links.patient_page()],
            )
        )
    for change in selectors.volume_changes(patient):
        row = change.row
        if change.direction == "increase":
            summary = _("Lesion volume (%(label)s) up %(percent).1f%% from its nadir on %(date)s")
            indicator = "warning"
        else:
            summary = _("Lesion volume (%(label)s) down %(percent).1f%% from baseline on %(date)s")
            indicator = "info"
        detail = _(
            "Volume %(volume).3f mL on %(date)s; baseline %(baseline).3f mL, nadir %(nadir).3f mL. "
            "Category: %(category)s (%(aid)s). Threshold: %(threshold)s %%."
        ) % {
            "volume": row["volume_ml"],
            "date": row["study_date"],
            "baseline": row["baseline_ml"],
            "nadir": row["nadir_ml"],
            "category": DISPLAY[row["category"]],
            "aid": AID_LABEL,
            "threshold": f"{abs(settings.CDS_HOOKS_VOLUME_CHANGE_PERCENT):g}",
        }
        cards.append(
            card(
                summary % {"label": change.label, "percent": abs(change.percent), "date": row["study_date"]},
                indicator,
                _source(_("CDSS tumour course (volumetric, RANO-style aid)"), links, f"/patients/{patient.emr_uuid}"),
                detail=f"{detail}\n\n{COURSE_SOURCE}",
                links=[links.patient_page()],
            )
        )
    omics = selectors.latest_omics(patient)
    if omics is not None:
        metrics = omics.raw_metrics or {}
        group = str(metrics["risk_group"])
        signed = omics.status == omics.Status.FINAL
        detail = _("Risk score %(score)s, percentile %(percentile)s; model %(model)s; %(status)s.") % {
            "score": metrics.get("risk_score"),
            "percentile": metrics.get("percentile"),
            "model": f"{omics.model_name} {omics.model_version}".strip(),
            "status": _("signed off") if signed else _("awaiting sign-off"),
        }
        cards.append(
            card(
                _("Omics risk group: %(group)s") % {"group": group},
                "warning" if group.lower() == "high" else "info",
                _source(_("CDSS omics risk model"), links, f"/ai/jobs/{omics.job_id}"),
                detail="\n\n".join(filter(None, [detail, omics.disclaimer])),
                links=[links.link(_("Open the omics result"), f"/ai/jobs/{omics.job_id}"), links.patient_page()],
            )
        )
    return cards


# --- order-select / order-sign ------------------------------------------------------------------------------------
def _order_cards(hook: str, context: dict, patient, data, links: _Links) -> list[dict]:
    drafts = prefetch.resources(context.get("draftOrders"), "ServiceRequest")
    if hook == "order-select":
        selected = set(context.get("selections") or [])
        drafts = [order for order in drafts if f"ServiceRequest/{order.get('id')}" in selected]
    orders = [order for order in drafts if selectors.is_brain_mr_order(order)]
    if not orders:
        return []
    priors = selectors.recent_brain_mr(patient, prefetch.resources(data.get("imagingStudies"), "ImagingStudy"))
    if not priors:
        return []
    latest = priors[0]
    days = (timezone.localdate() - latest.when).days
    held = _("held by the CDSS")
    lines = [
        f"- {prior.when.isoformat()}: {prior.description or 'MR'} "
        f"({held if prior.source == 'cdss' else prior.reference})"
        for prior in priors
    ]
    where = (
        links.link(_("Open the prior MR in the CDSS"), f"/radiology/studies/{latest.study_id}")
        if latest.study_id is not None
        else None
    )
    cards = []
    for order in orders:
        reference = f"ServiceRequest/{order.get('id')}"
        cards.append(
            card(
                _("A brain MR was done %(days)d days ago (%(date)s): consider reusing it")
                % {"days": days, "date": latest.when.isoformat()},
                "warning",
                _source(_("CDSS imaging history"), links, f"/patients/{patient.emr_uuid}" if patient else ""),
                detail="\n".join([_("Recent MR studies of the brain:"), *lines]),
                suggestions=[
                    {
                        "label": _("Reuse the MR of %(date)s and remove this order")
                        % {"date": latest.when.isoformat()},
                        "uuid": str(uuid.uuid4()),
                        "isRecommended": True,
                        "actions": [
                            {
                                "type": "delete",
                                "description": _("Remove the draft brain MR order"),
                                "resourceId": reference,
                            }
                        ],
                    }
                ],
                selectionBehavior="at-most-one",
                overrideReasons=[
                    {"code": "new-indication", "system": OVERRIDE_SYSTEM, "display": _("A new clinical question")},
                    {"code": "prior-inadequate", "system": OVERRIDE_SYSTEM, "display": _("The prior MR is inadequate")},
                ],
                links=[link for link in (where, links.patient_page() if patient else None) if link],
            )
        )
    return cards


# --- feedback -----------------------------------------------------------------------------------------------------
def feedback_record(*, service_id: str, items: list[dict], client: CdsClient, endpoint: str) -> int:
    """Keep each outcome once (a repeated report changes nothing) and audit it with the card's patient.
    Returns how many were new."""
    service_get(service_id)
    new = 0
    for item in items:
        remembered = cache.get(f"cds_hooks:card:{item['card']}") or {}
        patient_id = str(remembered.get("patient") or "")
        when: datetime = item["outcomeTimestamp"]
        try:
            with transaction.atomic():
                _, created = CardFeedback.objects.get_or_create(
                    service_id=service_id,
                    card_uuid=item["card"],
                    outcome=item["outcome"],
                    outcome_timestamp=when,
                    defaults={
                        "accepted_suggestions": item.get("acceptedSuggestions") or [],
                        "override_reason": item.get("overrideReason") or {},
                        "issuer": client.issuer.iss[:255],
                        "patient_id": patient_id,
                    },
                )
        except IntegrityError:
            created = False  # the same report, arriving twice at once
        new += created
        AuditClient.log_event(
            Action.CREATE if created else Action.READ,
            actor=client,
            resource_type="cds_feedback",
            resource_id=item["card"],
            patient_id=patient_id,
            endpoint=endpoint,
            detail={
                "service": service_id,
                "outcome": item["outcome"],
                "issuer": client.issuer.iss,
                "repeat": not created,
            },
        )
    return new
