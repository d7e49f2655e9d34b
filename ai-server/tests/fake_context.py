"""A pipeline context that keeps everything in memory, for the pipeline tests (the real one is
ai_server.jobs.JobContext, exercised by the consumer and MRI job tests)."""

import contextlib

import torch

from ai_server.pipelines.base import Artifact, ArtifactFile


class FakeContext:
    def __init__(self, orthanc=None, data: bytes = b""):
        self.job_id = "job-1"
        self.device = torch.device("cpu")
        self.orthanc = orthanc
        self.data = data  # what get_object answers
        self.stages: list[str] = []
        self.progressed: list[tuple[str, float]] = []
        self.artifacts: dict[str, tuple[str, bytes, str]] = {}  # name -> (filename, data, content type)
        self.read: list[tuple[str, str]] = []

    def autocast(self):
        return contextlib.nullcontext()  # CPU: float32

    @contextlib.contextmanager
    def stage(self, name: str):
        self.stages.append(name)
        yield

    def progress(self, stage: str, fraction: float) -> None:
        self.progressed.append((stage, fraction))

    def put_artifacts(self, files: list[ArtifactFile]) -> list[Artifact]:
        for f in files:
            self.artifacts[f.name] = (f.filename, f.data, f.content_type)
        return [f.artifact(self.job_id) for f in files]

    def get_object(self, bucket: str, key: str) -> bytes:
        self.read.append((bucket, key))
        return self.data
