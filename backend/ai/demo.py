"""Demo imaging for a local run (`make run`, `manage.py seed_demo_imaging`): the studies and expression
profile that ai-server's `ai_server.demo_imaging` wrote into a directory are stored in Orthanc and
recorded through the normal upload path (radiology.ingest, as the demo radiologist), analysed by the
real ai-server (jobs requested by the demo doctor), and the results the manifest marks `sign_off`
approved through the review service by the demo radiologist (audited); the others stay PRELIMINARY.
One result per demo study (or profile) and model: the demo's earlier results of the same input that the
analysis kept or requested now replaces are marked superseded (ai.services.results_supersede, audited), so
they leave the worklist and the signed findings however often `make run` re-analyses.

Idempotent against what each system really holds, not what the database remembers: the database may be
shared with other checkouts whose Orthanc and object store are not this one's. So a study counts as
loaded only when Orthanc holds each of its series whole (otherwise its files are stored again, which also
refreshes the row), and an analysis counts as done only while its job is running or its result still
has its artifacts in the object store and its SEG in Orthanc (otherwise a new job is requested). A
second run over the same servers therefore changes nothing and takes seconds.
"""

import json
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files import File
from minio.error import S3Error

from core.errors import NotFound
from core.http import ExternalNotFound
from core.storage import storage_client
from emr.models import Patient
from radiology.clients.orthanc_client import get_orthanc_client
from radiology.ingest.store import dicom_ingest
from radiology.models import Study
from radiology.services import study_sync

from . import services
from .models import AIJob, AIResult

SEGMENTATION_MODEL = "mri-lesion-demo"
OMICS_MODEL = "omics-cox-gse7390"
REQUESTER, REVIEWER = "doctor", "radiologist"  # demo accounts (acct seed_demo)
SIGN_OFF_COMMENT = "Demo data: synthetic lesion, approved by the demo radiologist so that a volume trend exists."


@dataclass
class Outcome:
    stored: int = 0  # studies (re)stored in Orthanc
    recorded: int = 0  # studies whose row was created here
    submitted: int = 0  # AI jobs requested
    signed_off: int = 0  # results approved
    superseded: int = 0  # earlier demo results of the same input replaced by the current analysis
    pending: list[str] = field(default_factory=list)  # jobs still running when the wait ended
    skipped: list[str] = field(default_factory=list)


def seed(directory: Path, *, analyse: bool = True, wait_seconds: float = 180, say: Callable[[str], None] = print):
    manifest = json.loads((directory / "manifest.json").read_text())
    users = get_user_model().objects
    try:
        requester, reviewer = users.get(username=REQUESTER), users.get(username=REVIEWER)
    except users.model.DoesNotExist as exc:
        raise NotFound(f"the demo accounts {REQUESTER} and {REVIEWER} are missing: run seed_demo first") from exc
    outcome = Outcome()
    sign_off: list[AIJob] = []
    waiting: list[AIJob] = []
    for spec in manifest["studies"]:
        label = f"{spec['mrn']} {spec['study_date']}"
        if not Patient.objects.filter(mrn=spec["mrn"]).exists():
            outcome.skipped.append(f"{label}: no EMR patient with this record number in the patient cache")
            say(f"  {label}: skipped, no EMR patient {spec['mrn']} in the patient cache")
            continue
        study, pacs_series = _study_loaded(directory, spec, reviewer, outcome, say, label)
        if study.status != Study.Status.LINKED:
            outcome.skipped.append(f"{label}: study {study.pk} is {study.status} ({study.reconciliation_reason})")
            say(f"  {label}: study {study.pk} is {study.status}, not analysed: {study.reconciliation_reason}")
            continue
        if analyse:
            job = _analysis(
                AIJob.objects.filter(study=study, model_name=SEGMENTATION_MODEL, requested_by=requester), pacs_series,
                lambda study=study: services.job_submit(actor=requester, model=SEGMENTATION_MODEL, study=study),
                outcome, say, label,
            )  # fmt: skip
            (sign_off if spec["sign_off"] else waiting).append(job)
    if analyse:
        for spec in manifest["expression"]:
            label = f"{spec['mrn']} expression profile"
            patient = Patient.objects.filter(mrn=spec["mrn"]).first()
            if patient is None:
                outcome.skipped.append(f"{label}: no EMR patient with this record number in the patient cache")
                continue
            jobs = AIJob.objects.filter(
                patient=patient,
                model_name=OMICS_MODEL,
                expression_upload__sha256=spec["sha256"],
                requested_by=requester,
            )
            submit = lambda path=directory / spec["file"], patient=patient: _expression_job(path, patient, requester)  # noqa: E731
            job = _analysis(jobs, None, submit, outcome, say, label)
            (sign_off if spec["sign_off"] else waiting).append(job)
        _wait([*sign_off, *waiting], wait_seconds, outcome, say)
        for job in sign_off:
            outcome.signed_off += _signed_off(job, reviewer, say)
    return outcome


# --- studies ------------------------------------------------------------------------------------------------------
def _study_loaded(directory: Path, spec: dict, actor, outcome: Outcome, say, label: str) -> tuple[Study, set[str]]:
    """The study's row, after storing its files when Orthanc lacks any; and the series UIDs Orthanc holds."""
    orthanc_id, series = _in_pacs(spec)
    if orthanc_id is None or any(len(series.get(uid, [])) < count for uid, count in _expected_series(spec)):
        with ExitStack() as files, dicom_ingest(actor=actor) as ingest:
            for name in spec["files"]:
                ingest.add(File(files.enter_context((directory / name).open("rb")), name=Path(name).name))
        counts = ingest.outcome.counts
        if counts["rejected"] or len(ingest.outcome.studies) != 1:
            reasons = {r.get("reason") for r in ingest.outcome.results if r["status"] == "rejected"}
            raise RuntimeError(f"{label}: the upload of the demo study failed: {sorted(reasons)[:3]}")
        outcome.stored += 1
        say(f"  {label}: stored in Orthanc ({counts['stored']} new, {counts['already_stored']} already there)")
        orthanc_id, series = _in_pacs(spec)
    study = Study.objects.filter(orthanc_id=orthanc_id).first()
    if study is None:  # in this Orthanc, but unknown to this database
        study, _created = study_sync(orthanc_study_id=orthanc_id, source=Study.Source.UPLOAD, actor=actor)
        outcome.recorded += 1
        say(f"  {label}: recorded as study {study.pk}")
    return study, set(series)


def _expected_series(spec: dict) -> list[tuple[str, int]]:
    """(SeriesInstanceUID, instances) of each series of a manifest's study: its T1, T1C, T2 and FLAIR
    (ai_server.demo_imaging VERSION 2); a manifest with one series names it at the study's level."""
    listed = spec.get("series") or [spec]
    return [(item["series_instance_uid"], item["instances"]) for item in listed]


def _in_pacs(spec: dict) -> tuple[str | None, dict[str, list]]:
    """The Orthanc id of the demo study (this patient's, never a study sharing its UID) and its series:
    {SeriesInstanceUID: instance ids}. (None, {}) when Orthanc does not hold it."""
    orthanc = get_orthanc_client()
    for resource in orthanc.lookup(spec["study_instance_uid"]):
        if resource.get("Type") != "Study":
            continue
        try:
            study = orthanc.get_study(resource["ID"])
            if (study.get("PatientMainDicomTags") or {}).get("PatientID") != spec["mrn"]:
                continue
            series = orthanc.list_series(resource["ID"])
        except ExternalNotFound:  # deleted meanwhile
            continue
        return resource["ID"], {
            (item.get("MainDicomTags") or {}).get("SeriesInstanceUID", ""): item.get("Instances", []) for item in series
        }
    return None, {}


# --- analyses -----------------------------------------------------------------------------------------------------
def _analysis(jobs, pacs_series: set[str] | None, submit, outcome: Outcome, say, label: str) -> AIJob:
    """The newest of the demo's `jobs` that is running or has a usable result; otherwise a new one from
    `submit`. Either way the other results of `jobs` (earlier runs) are superseded by it."""
    current = jobs.filter(result__superseded_by__isnull=True)  # a job without a result yet counts too
    chosen = None
    for job in current.select_related("result").order_by("-created_at"):
        if job.is_active or (job.status == AIJob.Status.COMPLETED and _usable(job, pacs_series)):
            chosen = job
            break
    if chosen is None:
        chosen = submit()
        outcome.submitted += 1
        say(f"  {label}: analysis requested ({chosen.model_name}, job {chosen.pk})")
    older = AIResult.objects.filter(job__in=jobs.exclude(pk=chosen.pk)).current()
    superseded = services.results_supersede(
        actor=chosen.requested_by, newer=chosen, results=older, reason="demo data analysed again"
    )
    if superseded:
        outcome.superseded += superseded
        say(f"  {label}: {superseded} earlier demo result(s) superseded by job {chosen.pk}")
    return chosen


def _usable(job: AIJob, pacs_series: set[str] | None) -> bool:
    """A result that can still be shown here: not rejected, its SEG in this Orthanc (for an image analysis)
    and every artifact in this object store."""
    result = getattr(job, "result", None)
    if result is None or result.status == AIResult.Status.CANCELLED:
        return False
    if pacs_series is not None and result.orthanc_seg_series_uid and result.orthanc_seg_series_uid not in pacs_series:
        return False
    client = storage_client()
    for artifact in result.artifacts or []:
        try:
            client.stat_object(artifact.get("bucket") or settings.S3_BUCKETS["artifacts"], artifact["key"])
        except S3Error:
            return False
    return True


def _expression_job(path: Path, patient: Patient, actor) -> AIJob:
    with path.open("rb") as handle:
        upload = services.expression_upload_create(actor=actor, patient=patient, file=File(handle, name=path.name))
    return services.job_submit(actor=actor, model=OMICS_MODEL, expression_upload=upload)


def _wait(jobs: list[AIJob], seconds: float, outcome: Outcome, say) -> None:
    """Until every job has finished, or `seconds` have passed (they then finish in the background)."""
    ids = [job.pk for job in jobs]
    deadline, reported = time.monotonic() + seconds, None
    while True:
        active = list(AIJob.objects.filter(pk__in=ids, status__in=AIJob.ACTIVE).values_list("pk", flat=True))
        if not active:
            break
        if time.monotonic() > deadline:
            outcome.pending = [str(pk) for pk in active]
            say(f"  {len(active)} analyses still running after {seconds:.0f} s: they finish in the background")
            break
        if reported != len(active):
            say(f"  waiting for {len(active)} of {len(ids)} analyses (the ai-server runs them)")
            reported = len(active)
        time.sleep(1)
    failed = AIJob.objects.filter(pk__in=ids, status=AIJob.Status.FAILED)
    for job in failed:
        say(f"  job {job.pk} ({job.model_name}) FAILED: {job.failure_reason}")


def _signed_off(job: AIJob, reviewer, say) -> int:
    result = AIResult.objects.filter(job_id=job.pk).first()
    if result is None or result.status != AIResult.Status.PRELIMINARY:
        return 0
    services.result_review(actor=reviewer, result=result, decision=services.Decision.APPROVE, comment=SIGN_OFF_COMMENT)
    say(f"  result {result.pk} ({job.model_name}, {job.patient.mrn}) approved by {reviewer.get_username()}: FINAL")
    return 1
