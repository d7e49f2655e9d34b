"""A pipeline context that keeps everything in memory, for the pipeline tests (the real one is
ai_server.jobs.JobContext, exercised by the consumer and MRI job tests)."""

import contextlib
import io

import pydicom
import torch

from ai_server.pipelines.base import Artifact, ArtifactFile, InvalidJob


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


class FakeOrthanc:
    """The four methods of ai_server.orthanc.OrthancClient the pipeline uses, over a list of DICOM files."""

    def __init__(self, files: list[bytes]):
        self.files: dict[str, bytes] = {}
        self.headers: dict[str, pydicom.Dataset] = {}
        self.stored: list[bytes] = []
        for data in files:
            self.add(data)

    def add(self, data: bytes) -> str:
        header = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
        instance_id = f"i-{len(self.files)}"
        self.files[instance_id], self.headers[instance_id] = data, header
        return instance_id

    def series_of_study(self, study_instance_uid: str, patient_id: str = "") -> list[dict]:
        series: dict[str, dict] = {}
        for instance_id, h in self.headers.items():
            if h.StudyInstanceUID == study_instance_uid and patient_id in ("", h.PatientID):
                entry = series.setdefault(
                    h.SeriesInstanceUID,
                    {
                        "ID": f"se-{h.SeriesInstanceUID}",
                        "Instances": [],
                        "MainDicomTags": {
                            "SeriesInstanceUID": h.SeriesInstanceUID,
                            "Modality": h.Modality,
                            "SeriesDescription": h.get("SeriesDescription", ""),
                            "SeriesNumber": str(h.get("SeriesNumber", "")),
                        },
                    },
                )
                entry["Instances"].append(instance_id)
        if not series:
            raise InvalidJob(f"study {study_instance_uid} is not in Orthanc")
        return list(series.values())

    def instance_file(self, orthanc_instance_id: str) -> bytes:
        return self.files[orthanc_instance_id]

    def series_files(self, orthanc_series_id: str) -> list[bytes]:
        return [self.files[i] for i, h in self.headers.items() if f"se-{h.SeriesInstanceUID}" == orthanc_series_id]

    def store(self, dicom_bytes: bytes) -> dict:
        self.stored.append(dicom_bytes)
        instance_id = self.add(dicom_bytes)
        return {"ID": instance_id, "ParentSeries": "se-seg", "Status": "Success"}
