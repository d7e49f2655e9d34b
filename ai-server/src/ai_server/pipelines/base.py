"""What every pipeline receives and returns. A pipeline turns one job's input into metrics and artifacts;
it never touches RabbitMQ, and talks to Orthanc and the object store only through the context."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

DEMO_DISCLAIMER = "Synthetic-lesion demo model, not for clinical use."
# The shipped MRI model's disclaimer in every language the CDSS answers in (its card and manifest hold the
# same); a result carries its model's, read from the manifest, and a model without Korean falls back to English.
DEMO_DISCLAIMERS = {"en": DEMO_DISCLAIMER, "ko": "합성 병변으로 학습한 시연용 모델로, 임상에 사용할 수 없습니다."}


class JobFailed(Exception):
    """The job cannot succeed with this input (inconsistent series, too many missing genes ...): it is
    reported FAILED with this message and not retried. The message is shown to clinicians: say what
    is wrong with the input, not how the code failed."""


class InvalidJob(JobFailed):
    """The request itself is wrong (unknown model, missing study or input): FAILED and dead-lettered."""


@dataclass
class Artifact:
    name: str  # "seg", "mask", "overlay-042", "result", "km-plot" ...
    key: str  # object key in the artifacts bucket
    content_type: str
    size: int


@dataclass
class ArtifactFile:
    """An artifact to store: its name, the file name under jobs/<job id>/, the bytes and their type."""

    name: str
    filename: str
    data: bytes
    content_type: str

    def artifact(self, job_id: str) -> Artifact:
        """What the job reports once the file is stored."""
        return Artifact(self.name, f"jobs/{job_id}/{self.filename}", self.content_type, len(self.data))


@dataclass
class Outcome:
    metrics: dict[str, Any]
    summary: str
    artifacts: list[Artifact] = field(default_factory=list)
    disclaimer: str = DEMO_DISCLAIMER
    orthanc: dict[str, Any] = field(default_factory=dict)  # e.g. the SEG stored back in Orthanc


class JobContext(Protocol):
    """Given to a pipeline by the consumer (ai_server.jobs)."""

    job_id: str
    device: Any  # torch.device

    def autocast(self):
        """Context manager for the forward pass: float16 autocast on CUDA unless AI_FP16 is off, else nothing."""

    def stage(self, name: str):
        """Context manager timing one stage (fetch, volume, preprocessing, forward, postprocessing,
        writing); checks the job's deadline on entry and on exit."""

    def progress(self, stage: str, fraction: float) -> None:
        """Publish ai.job.progress; stage is one of fetching, preprocessing, inference, writing."""

    def put_artifacts(self, files: list[ArtifactFile]) -> list[Artifact]:
        """Store each file under jobs/<job id>/<filename> in the artifacts bucket; returns them in order."""

    def get_object(self, bucket: str, key: str) -> bytes:
        """Read an input object (an uploaded expression profile)."""

    @property
    def orthanc(self) -> Any:
        """ai_server.orthanc.OrthancClient: series_of_study, series_files, instance_file, store."""


class Pipeline(Protocol):
    task: str  # the manifest's "task": "segmentation" or "omics-risk"

    def run(self, job: dict[str, Any], model: Any, ctx: JobContext) -> Outcome:
        """`job` is the ai.job.create body (docs/ai.md); `model` the registry's LoadedModel."""
