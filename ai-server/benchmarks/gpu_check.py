"""GPU check: the MRI segmentation job on CUDA (float16 autocast, as the service runs it with AI_FP16) against
the same job on CPU in float32: the masks must agree (Dice >= 0.99), and the forward-pass and end-to-end
times of both are printed. Needs no Orthanc, broker or object store: the input is a synthetic 95-slice T1
series made by the project's generator (ai_server.synthetic, which the demo imaging uses too), served from
memory, and the pipeline (SegmentationPipeline.run, fetch to SEG, NIfTI and overlays) is called directly.

    benchmarks/gpu_check.sh                      # on a GPU machine: a venv from requirements-cuda.lock, then this
    .venv/bin/python benchmarks/gpu_check.py --device cpu    # CPU float32 against itself (Dice 1.0)

Options: --device cuda|cuda:N|cpu (default cuda), --fp32 (the candidate without float16), --rounds N timed runs
per side (default 3, after one warm-up), --json PATH (default $OUT/gpu_check.json when OUT is set).
Exit status 0 when Dice >= --min-dice (0.99), 1 otherwise, 2 when the device is missing.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pydicom
import torch

from ai_server import synthetic
from ai_server.device import Device
from ai_server.evaluation import dice
from ai_server.pipelines.base import Artifact, ArtifactFile, InvalidJob
from ai_server.pipelines.segmentation import SegmentationPipeline
from ai_server.registry import load_model_directory

AI_SERVER = Path(__file__).resolve().parents[1]
MODEL_DIR = AI_SERVER / "models" / "mri-lesion-demo" / "1.1.0"
STUDY_UID = "1.2.826.0.1.3680043.8.498.20261204.1"


class MemoryOrthanc:
    """The four OrthancClient methods the pipeline calls, over one study held in memory."""

    def __init__(self, files: list[bytes]):
        self.files: dict[str, bytes] = {}
        self.headers: dict[str, pydicom.Dataset] = {}
        for data in files:
            self._add(data)

    def _add(self, data: bytes) -> str:
        instance_id = f"i-{len(self.files)}"
        self.files[instance_id] = data
        self.headers[instance_id] = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
        return instance_id

    def series_of_study(self, study_instance_uid: str, patient_id: str = "") -> list[dict]:
        series: dict[str, dict] = {}
        for instance_id, h in self.headers.items():
            if h.StudyInstanceUID != study_instance_uid or h.Modality != "MR":
                continue
            tags = {
                "SeriesInstanceUID": h.SeriesInstanceUID,
                "Modality": h.Modality,
                "SeriesDescription": h.get("SeriesDescription", ""),
                "SeriesNumber": str(h.get("SeriesNumber", "")),
            }
            empty = {"ID": h.SeriesInstanceUID, "Instances": [], "MainDicomTags": tags}
            entry = series.setdefault(h.SeriesInstanceUID, empty)
            entry["Instances"].append(instance_id)
        if not series:
            raise InvalidJob(f"study {study_instance_uid} is not here")
        return list(series.values())

    def instance_file(self, orthanc_instance_id: str) -> bytes:
        return self.files[orthanc_instance_id]

    def series_files(self, orthanc_series_id: str) -> list[bytes]:
        return [self.files[i] for i, h in self.headers.items() if h.SeriesInstanceUID == orthanc_series_id]

    def store(self, dicom_bytes: bytes) -> dict:
        return {"ID": "seg", "Status": "Success"}  # the SEG is not kept: only the mask is compared


class CheckContext:
    """ai_server.jobs.JobContext without the services: stages timed, artifacts kept in memory."""

    def __init__(self, device: Device, orthanc: MemoryOrthanc):
        self.job_id = "gpu-check"
        self.services_device = device
        self.device = device.torch_device
        self.orthanc = orthanc
        self.timings: dict[str, float] = {}
        self.files: dict[str, bytes] = {}

    def autocast(self):
        return self.services_device.autocast()

    @contextlib.contextmanager
    def stage(self, name: str):
        started = time.perf_counter()
        try:
            yield
        finally:
            synchronize(self.device)  # a stage's GPU work counts in that stage
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - started

    def progress(self, stage: str, fraction: float) -> None:
        pass

    def put_artifacts(self, files: list[ArtifactFile]) -> list[Artifact]:
        self.files.update({f.name: f.data for f in files})
        return [f.artifact(self.job_id) for f in files]

    def get_object(self, bucket: str, key: str) -> bytes:
        raise InvalidJob("no object store here")


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def mask_of(files: dict[str, bytes]) -> np.ndarray:
    """The job's label map, from its NIfTI artifact (what the CDSS stores and shows)."""
    image = nib.Nifti1Image.from_bytes(gzip.decompress(files["mask"]))
    return np.asarray(image.dataobj)


def run_side(device: Device, files: list[bytes], rounds: int) -> dict[str, Any]:
    """One warm-up, then `rounds` timed jobs on `device`: median forward and end-to-end times, the mask."""
    model = load_model_directory(MODEL_DIR, device.torch_device)
    pipeline = SegmentationPipeline()
    job = {
        "job_id": "gpu-check",
        "attempt": 1,
        "model": model.name,
        "model_version": model.version,
        "input": {"kind": "dicom-study", "study_instance_uid": STUDY_UID, "series_instance_uids": []},
    }
    # What autocast really does to the (TorchScript) network: the dtype of its output on one window.
    channels = len(model.manifest["input"]["channels"])
    window = torch.randn(1, channels, *model.manifest["preprocessing"]["roi_size"], device=device.torch_device)
    with torch.inference_mode(), device.autocast():
        output_dtype = str(model.artifact(window).dtype).removeprefix("torch.")
    runs = []
    for _ in range(rounds + 1):  # the first is the warm-up (CUDA context, cuDNN autotuning, allocator)
        ctx = CheckContext(device, MemoryOrthanc(files))
        synchronize(device.torch_device)
        started = time.perf_counter()
        outcome = pipeline.run(job, model, ctx)
        synchronize(device.torch_device)
        runs.append((time.perf_counter() - started, dict(ctx.timings), ctx.files, outcome.metrics))
    timed = runs[1:]
    end_to_end = [elapsed for elapsed, *_ in timed]
    forward = [timings["forward"] for _elapsed, timings, *_ in timed]
    _elapsed, _timings, last_files, metrics = timed[-1]
    return {
        "device": device.describe(),
        "network_output_dtype": output_dtype,
        "forward_s": {"median": statistics.median(forward), "all": forward},
        "end_to_end_s": {"median": statistics.median(end_to_end), "all": end_to_end},
        "stages_s": {name: statistics.median(t[name] for _e, t, *_ in timed) for name in timed[-1][1]},
        "lesion_ml": metrics["volume_ml"].get("lesion"),
        "mask": mask_of(last_files),
    }


def make_device(requested: str, fp16: bool) -> Device:
    """Like ai_server.device.select_device, without its process-wide memory fraction (both sides share a process)."""
    if requested == "cpu":
        return Device(torch.device("cpu"), "cpu", None, fp16)
    torch_device = torch.device(requested)
    return Device(torch_device, torch.cuda.get_device_name(torch_device), None, fp16)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="the candidate: cuda, cuda:N or cpu (default cuda)")
    parser.add_argument("--fp32", action="store_true", help="the candidate without float16 autocast")
    parser.add_argument("--rounds", type=int, default=3, help="timed runs per side after one warm-up (default 3)")
    parser.add_argument("--min-dice", type=float, default=0.99)
    parser.add_argument("--json", type=Path, help="where to write the figures (default $OUT/gpu_check.json)")
    args = parser.parse_args(argv)

    if args.device != "cpu" and not torch.cuda.is_available():
        print(f"--device {args.device}: torch {torch.__version__} sees no CUDA device", file=sys.stderr)
        return 2
    case = synthetic.make_case(seed=11, lesion_radius_mm=12.0)
    files = synthetic.write_series(case.volume, case.spacing, study_instance_uid=STUDY_UID, patient_id="GPU-CHECK")
    print(f"input: synthetic T1, {len(files)} slices, volume {case.volume.shape}, lesion {case.lesion_ml:.2f} mL")

    reference = run_side(make_device("cpu", False), files, args.rounds)
    candidate = run_side(make_device(args.device, not args.fp32), files, args.rounds)
    overlap = dice(candidate["mask"], reference["mask"])

    report: dict[str, Any] = {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "cpu_threads": torch.get_num_threads(),
        "slices": len(files),
        "true_lesion_ml": round(case.lesion_ml, 3),
        "rounds": args.rounds,
        "dice": overlap,
        "min_dice": args.min_dice,
        "passed": overlap >= args.min_dice,
    }
    for name, side in (("reference", reference), ("candidate", candidate)):
        report[name] = {key: value for key, value in side.items() if key != "mask"}
        report[name]["mask_voxels"] = int(np.count_nonzero(side["mask"]))

    for name, side in (("reference", reference), ("candidate", candidate)):
        device = side["device"]
        print(
            f"{name:<9} {device['type']} ({device['name']}, {device['precision']}, "
            f"network output {side['network_output_dtype']}): "
            f"forward {side['forward_s']['median'] * 1000:.1f} ms, "
            f"end to end {side['end_to_end_s']['median'] * 1000:.1f} ms "
            f"(median of {args.rounds}); lesion {side['lesion_ml']} mL, {report[name]['mask_voxels']} mask voxels"
        )
    speed = reference["forward_s"]["median"] / candidate["forward_s"]["median"]
    whole = reference["end_to_end_s"]["median"] / candidate["end_to_end_s"]["median"]
    report["speedup"] = {"forward": speed, "end_to_end": whole}
    print(f"speed-up over CPU float32: forward x{speed:.2f}, end to end x{whole:.2f}")
    verdict = "PASS" if report["passed"] else "FAIL"
    print(f"Dice(candidate, reference) = {overlap:.5f}  (needed >= {args.min_dice})  {verdict}")

    target = args.json or (Path(os.environ["OUT"]) / "gpu_check.json" if os.environ.get("OUT") else None)
    if target:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"figures: {target}")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
