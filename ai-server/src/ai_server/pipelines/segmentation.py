"""MRI segmentation: the study's series chosen by the model's input spec -> volume(s) -> resampled and
normalised -> sliding-window inference -> label map on the source grid -> volumes in mL, bounding box,
slices involved -> DICOM SEG (also stored back in Orthanc), NIfTI mask and overlay PNGs.

The manifest's input spec (docs/ai.md) says which series feed which channel; "spacing_mm" is along the
volume's (slice, row, column) axes and a single number means isotropic.
"""

from __future__ import annotations

import functools
import gzip
import io
import re
from typing import Any

import highdicom as hd
import nibabel as nib
import numpy as np
import pydicom
import torch
import torch.nn.functional as F
from highdicom import _standard_utils
from monai.inferers import sliding_window_inference
from PIL import Image, ImageDraw, ImageFont
from pydicom.sr.codedict import codes

from ai_server.dicom_series import Volume, read_series
from ai_server.pipelines.base import DEMO_DISCLAIMER, ArtifactFile, InvalidJob, JobContext, JobFailed, Outcome

# Sequence type from a SeriesDescription; the first match wins, so FLAIR and post-contrast T1 come first.
SEQUENCE_PATTERNS = [
    ("FLAIR", re.compile(r"flair|dark.?fluid", re.I)),
    ("T1C", re.compile(r"(t1|mprage|spgr|bravo|vibe).*(\+c|gd|gad|post|contrast|\bce\b)|(\+c|gad|post).*t1", re.I)),
    ("T1", re.compile(r"t1|mprage|mp-rage|spgr|bravo|\btfl\b", re.I)),
    ("DWI", re.compile(r"dwi|diffusion|\badc\b|trace", re.I)),
    ("T2", re.compile(r"t2|\btse\b|\bfse\b", re.I)),
]
OVERLAYS = 3  # key slices drawn: those with the largest lesion area


def _remember_iod_lookups() -> None:
    """highdicom 0.28 asks of every source image whether its IOD allows NumberOfFrames, scanning the standard's
    module tables each time (about 0.3 ms): half the time of building the SEG of a 95-slice series. The answer
    depends on nothing but the attribute and the SOP class (the tables ship with highdicom), so it is remembered."""
    lookup = _standard_utils.is_attribute_in_iod

    @functools.cache
    def remembered(attribute: str, sop_class_uid: str, exclude: tuple[str, ...] | None) -> bool:
        return lookup(attribute, sop_class_uid, None if exclude is None else list(exclude))

    @functools.wraps(lookup)
    def is_attribute_in_iod(attribute: str, sop_class_uid: str, exclude_path_elements=None) -> bool:
        exclude = None if exclude_path_elements is None else tuple(exclude_path_elements)
        return remembered(attribute, str(sop_class_uid), exclude)

    _standard_utils.is_attribute_in_iod = is_attribute_in_iod


_remember_iod_lookups()


def guess_sequence(description: str, header: pydicom.Dataset | None = None) -> str | None:
    """T1, T1C, T2, FLAIR or DWI from the description, else from the acquisition parameters of `header`."""
    for name, pattern in SEQUENCE_PATTERNS:
        if pattern.search(description or ""):
            return name
    if header is None:
        return None
    scanning = set(header.get("ScanningSequence") or [])
    tr, te = float(header.get("RepetitionTime") or 0), float(header.get("EchoTime") or 0)
    ti = float(header.get("InversionTime") or 0)
    if "EP" in scanning:
        return "DWI"
    if "IR" in scanning and ti > 1500:
        return "FLAIR"
    if ("GR" in scanning and 0 < tr < 50) or ("IR" in scanning and ti > 0) or (0 < tr < 1000 and 0 < te < 30):
        return "T1"
    if tr > 2000 and te > 60:
        return "T2"
    return None


def normalise(array: np.ndarray, method: str) -> np.ndarray:
    """foreground_p95: divide by the 95th percentile of voxels above the mean (about white matter in a T1,
    whether or not there is background around the head); zscore_nonzero: mean 0, sd 1 over non-zero voxels."""
    if method == "foreground_p95":
        return array / max(float(np.percentile(array[array > array.mean()], 95)), 1e-6)
    if method == "zscore_nonzero":
        values = array[array != 0]
        return (array - values.mean()) / max(float(values.std()), 1e-6)
    raise InvalidJob(f"the model's input spec names an unknown normalisation '{method}'")


def resample(
    image: torch.Tensor, src_affine: np.ndarray, dst_affine: np.ndarray, shape: tuple[int, ...], mode: str = "bilinear"
) -> torch.Tensor:
    """Resample (C, slice, row, column) from one voxel grid to another; both affines map to patient mm."""
    src_shape = np.array(image.shape[1:])
    dst_shape = np.array(shape)
    index = np.linalg.inv(src_affine) @ dst_affine  # destination index -> source index
    if tuple(src_shape) == tuple(shape) and np.allclose(index, np.eye(4), atol=1e-4):
        return image
    # affine_grid works in [-1, 1] coordinates (align_corners) with axes in (column, row, slice) order.
    half_dst, half_src = np.maximum(dst_shape - 1, 1) / 2, np.maximum(src_shape - 1, 1) / 2
    linear = index[:3, :3] * half_dst / half_src[:, None]
    shift = (index[:3, :3] @ ((dst_shape - 1) / 2) + index[:3, 3] - (src_shape - 1) / 2) / half_src
    theta = np.concatenate([linear[::-1, ::-1], shift[::-1, None]], axis=1)
    theta_t = torch.as_tensor(theta[None], dtype=image.dtype, device=image.device)
    grid = F.affine_grid(theta_t, [1, image.shape[0], *shape], align_corners=True)
    return F.grid_sample(image[None], grid, mode=mode, align_corners=True)[0]


class SegmentationPipeline:
    task = "segmentation"

    def run(self, job: dict[str, Any], model: Any, ctx: JobContext) -> Outcome:
        manifest = model.manifest
        prep = manifest["preprocessing"]
        with ctx.stage("fetch"):
            chosen = self.choose_series(job["input"], manifest["input"], ctx)
            instances = [self.fetch(series, ctx) for series in chosen]
        with ctx.stage("volume"):
            volumes = [read_series(datasets) for datasets in instances]
        ctx.progress("preprocessing", 0.0)
        with ctx.stage("preprocessing"):
            image, grid = self.preprocess(volumes, prep, ctx.device)
        ctx.progress("inference", 0.0)
        with ctx.stage("forward"):
            logits = self.forward(image, prep, model.artifact, ctx.autocast())
        ctx.progress("inference", 1.0)
        source = volumes[0]
        with ctx.stage("postprocessing"):
            labels = self.to_labels(logits, grid, source)
            metrics = self.measure(labels, source, manifest)
        ctx.progress("writing", 0.0)
        with ctx.stage("writing"):
            return self.write(labels, source, metrics, model, chosen[0], ctx)

    # --- choosing and fetching series -------------------------------------------------------------------
    def choose_series(self, job_input: dict[str, Any], spec: dict[str, Any], ctx: JobContext) -> list[dict]:
        study_uid = job_input.get("study_instance_uid")
        if not study_uid:
            raise InvalidJob("the job names no study_instance_uid")
        series = ctx.orthanc.series_of_study(study_uid, job_input.get("patient_id", ""))
        wanted = set(job_input.get("series_instance_uids") or [])
        if wanted:
            known = {s["MainDicomTags"].get("SeriesInstanceUID") for s in series}
            if missing := wanted - known:
                raise InvalidJob(f"study {study_uid} has no series {', '.join(sorted(missing))}")
            series = [s for s in series if s["MainDicomTags"].get("SeriesInstanceUID") in wanted]
        modality = spec.get("modality", "MR")
        series = [s for s in series if s["MainDicomTags"].get("Modality") == modality and s.get("Instances")]
        guessed = {s["ID"]: self.sequence_of(s, ctx) for s in series}
        chosen: list[dict] = []
        if not spec.get("channels"):
            raise InvalidJob("the model's input spec names no channels")
        for channel in spec["channels"]:
            try:
                regex = re.compile(channel["description"], re.I) if channel.get("description") else None
            except re.error as exc:
                raise InvalidJob(f"the model's input spec has a bad description pattern ({exc})") from exc
            sequences = set(channel.get("sequence") or [])
            fits = []
            for s in series:
                described = bool(regex and regex.search(s["MainDicomTags"].get("SeriesDescription", "")))
                typed = guessed[s["ID"]] in sequences
                if s not in chosen and (described or typed):
                    # Prefer the sequence type (a description pattern "T1" also fits "T1 post GD", a T1C),
                    # then a description match, then the most images (a volume over a localiser).
                    number = -int(s["MainDicomTags"].get("SeriesNumber") or 0)
                    fits.append((typed, described, len(s["Instances"]), number, s))
            if not fits:
                seen = ", ".join(f"'{s['MainDicomTags'].get('SeriesDescription', '')}'" for s in series) or "none"
                rule = f"sequence {'/'.join(sorted(sequences)) or 'any'}"
                rule += f" or description /{channel['description']}/" if regex else ""
                raise InvalidJob(
                    f"study {study_uid} has no {modality} series for channel '{channel['name']}' "
                    f"({rule}); {modality} series seen: {seen}"
                )
            chosen.append(max(fits, key=lambda fit: fit[:4])[4])
        return chosen

    def sequence_of(self, series: dict, ctx: JobContext) -> str | None:
        """Guess from the description; only when it says nothing, read the first image's header."""
        description = series["MainDicomTags"].get("SeriesDescription", "")
        guess = guess_sequence(description)
        if guess is None:
            data = ctx.orthanc.instance_file(series["Instances"][0])
            guess = guess_sequence(description, pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True))
        return guess

    def fetch(self, series: dict, ctx: JobContext) -> list[pydicom.Dataset]:
        files = ctx.orthanc.series_files(series["ID"])  # this patient's series only (series_of_study)
        ctx.progress("fetching", 0.5)
        datasets = [pydicom.dcmread(io.BytesIO(data)) for data in files]
        ctx.progress("fetching", 1.0)
        return datasets

    # --- preprocessing, forward, back to the source grid ---------------------------------------------
    def preprocess(
        self, volumes: list[Volume], prep: dict[str, Any], device: torch.device
    ) -> tuple[torch.Tensor, tuple[np.ndarray, tuple[int, ...]]]:
        """Channels on the first volume's grid, resampled to the model spacing and normalised.
        Returns (1, C, slice, row, column) on `device` and the model grid (affine, shape)."""
        ref = volumes[0]
        target = np.broadcast_to(np.asarray(prep["spacing_mm"], dtype=float), (3,))
        spacing = np.asarray(ref.spacing)
        shape = tuple(int(n) for n in np.maximum(np.rint(np.array(ref.array.shape) * spacing / target), 1))
        affine = ref.affine.copy()
        affine[:3, :3] = ref.affine[:3, :3] * (target / spacing)
        channels = []
        for volume in volumes:
            resampled = resample(torch.from_numpy(volume.array)[None].to(device), volume.affine, affine, shape)
            channels.append(normalise(resampled[0].cpu().numpy(), prep["normalise"]))
        return torch.from_numpy(np.stack(channels))[None].float().to(device), (affine, shape)

    def forward(self, image: torch.Tensor, prep: dict[str, Any], network: Any, autocast: Any) -> torch.Tensor:
        """Sliding-window inference under `autocast` (the context's: float16 on CUDA with AI_FP16)."""
        with torch.inference_mode(), autocast:
            logits = sliding_window_inference(
                image,
                tuple(prep["roi_size"]),
                int(prep.get("sw_batch_size", 1)),
                network,
                overlap=float(prep.get("overlap", 0.25)),
            )
        return logits[0].float()

    def to_labels(self, logits: torch.Tensor, grid: tuple[np.ndarray, tuple[int, ...]], source: Volume) -> np.ndarray:
        """Argmax on the source grid; when the model grid differs, probabilities are resampled first
        (smoother than resampling labels)."""
        affine, shape = grid
        if shape != source.array.shape or not np.allclose(affine, source.affine, atol=1e-4):
            logits = resample(torch.softmax(logits, 0), affine, source.affine, source.array.shape)
        if len(logits) == 2:  # background and one label: a comparison is 8x faster than torch.max on CPU
            return (logits[1] > logits[0]).to(torch.uint8).cpu().numpy()  # a tie goes to 0, as with torch.max
        return torch.max(logits, 0).indices.to(torch.uint8).cpu().numpy()  # argmax(0) is 20x slower on CPU

    # --- metrics and artifacts ----------------------------------------------------------------------
    def measure(self, labels: np.ndarray, source: Volume, manifest: dict[str, Any]) -> dict[str, Any]:
        """Per label: voxels, mL, bounding box as first/last 0-based voxel index along (slice, row, column)
        of the position-sorted volume, its extent in mm, and the 1-based numbers of the slices involved."""
        voxel_ml = float(np.prod(source.spacing)) / 1000.0
        per_label = {}
        for value, name in sorted(manifest["labels"].items(), key=lambda item: int(item[0])):
            present = labels == int(value)
            voxels = int(np.count_nonzero(present))  # a bincount of the whole map costs more than a pass per label
            entry: dict[str, Any] = {"label": int(value), "voxels": voxels, "volume_ml": round(voxels * voxel_ml, 3)}
            if voxels:
                in_slice = present.any(axis=(1, 2))
                hits = (in_slice, present.any(axis=(0, 2)), present.any(axis=(0, 1)))
                bounds = [np.flatnonzero(along)[[0, -1]] for along in hits]
                entry["bounding_box"] = {
                    axis: [int(lo), int(hi)] for axis, (lo, hi) in zip(("slice", "row", "column"), bounds, strict=True)
                }
                entry["extent_mm"] = [
                    round(float(hi - lo + 1) * s, 1) for (lo, hi), s in zip(bounds, source.spacing, strict=True)
                ]
                entry["slices"] = [int(k) + 1 for k in np.flatnonzero(in_slice)]  # 1-based, in position order
            per_label[name] = entry
        return {
            "series_instance_uid": source.series_uid,
            "slices": int(labels.shape[0]),
            "spacing_mm": [round(s, 4) for s in source.spacing],
            "volume_ml": {name: entry["volume_ml"] for name, entry in per_label.items()},
            "labels": per_label,
        }

    def write(
        self, labels: np.ndarray, source: Volume, metrics: dict[str, Any], model: Any, series: dict, ctx: JobContext
    ) -> Outcome:
        seg = self.segmentation(labels, source, model)
        buffer = io.BytesIO()
        seg.save_as(buffer)
        seg_bytes = buffer.getvalue()
        files = [ArtifactFile("seg", "seg.dcm", seg_bytes, "application/dicom")]
        stored = ctx.orthanc.store(seg_bytes)
        ctx.progress("writing", 0.4)
        nifti = nib.Nifti1Image(labels, source.ras_affine)
        nifti.header["descrip"] = DEMO_DISCLAIMER.encode()[:79]
        mask = gzip.compress(nifti.to_bytes(), compresslevel=1)  # a label map compresses well even at level 1
        files.append(ArtifactFile("mask", "mask.nii.gz", mask, "application/gzip"))
        display = source.array
        low, high = np.percentile(display[::4, ::4, ::4], [1, 99.5])
        for k in self.key_slices(labels):
            png = overlay_png(
                display[k],
                labels[k],
                low,
                high,
                f"slice {k + 1}/{labels.shape[0]}  lesion area "
                f"{np.count_nonzero(labels[k]) * source.spacing[1] * source.spacing[2]:.0f} mm2",
            )
            files.append(ArtifactFile(f"overlay-{k + 1:03d}", f"overlay-{k + 1:03d}.png", png, "image/png"))
        ctx.progress("writing", 0.6)
        artifacts = ctx.put_artifacts(files)
        ctx.progress("writing", 1.0)
        volumes = ", ".join(f"{name} {ml:.1f} mL" for name, ml in metrics["volume_ml"].items())
        description = series["MainDicomTags"].get("SeriesDescription", "")
        return Outcome(
            metrics=metrics,
            summary=f"{volumes} on series '{description}' ({DEMO_DISCLAIMER})",
            artifacts=artifacts,
            orthanc={"seg_instance_id": stored.get("ID"), "seg_series_instance_uid": str(seg.SeriesInstanceUID)},
        )

    def key_slices(self, labels: np.ndarray) -> list[int]:
        """The slices with the largest labelled area, in position order; the middle slice when nothing is found."""
        areas = np.count_nonzero(labels.reshape(len(labels), -1), axis=1)
        if not areas.any():
            return [len(labels) // 2]
        best = np.argsort(-areas, kind="stable")[:OVERLAYS]
        return sorted(int(k) for k in best if areas[k])

    def segmentation(self, labels: np.ndarray, source: Volume, model: Any) -> hd.seg.Segmentation:
        algorithm = hd.AlgorithmIdentificationSequence(
            name=model.name, version=model.version, family=codes.cid7162.ArtificialIntelligence
        )
        segments = [
            hd.seg.SegmentDescription(
                segment_number=int(value),
                segment_label=name,
                segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
                segmented_property_type=codes.SCT.Lesion,
                algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
                algorithm_identification=algorithm,
            )
            for value, name in sorted(model.manifest["labels"].items(), key=lambda item: int(item[0]))
        ]
        try:
            return hd.seg.Segmentation(
                source_images=source.datasets,
                pixel_array=source.in_source_order(labels),
                segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
                segment_descriptions=segments,
                series_instance_uid=hd.UID(),
                series_number=900,
                sop_instance_uid=hd.UID(),
                instance_number=1,
                manufacturer="CDSS ai-server",
                manufacturer_model_name=model.name[:64],
                software_versions=model.version,
                device_serial_number=model.sha256[:16],
                series_description="AI SEG synthetic-lesion demo - NOT FOR CLINICAL USE",
                content_description=DEMO_DISCLAIMER,
                content_label="AI_DEMO",
            )
        except (ValueError, TypeError, AttributeError) as exc:  # highdicom's checks on the source images
            raise JobFailed(f"series {source.series_uid}: a DICOM SEG cannot reference these images ({exc})") from exc


def overlay_png(plane: np.ndarray, labels: np.ndarray, low: float, high: float, caption: str) -> bytes:
    """The slice in grey, labelled voxels tinted red, enlarged, with the caption and disclaimer burned in."""
    grey = np.clip((plane - low) / max(high - low, 1e-6) * 255, 0, 255).astype(np.uint8)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    lesion = labels > 0
    rgb[lesion] = (0.5 * rgb[lesion] + [127, 0, 0]).astype(np.uint8)
    scale = max(2, -(-320 // plane.shape[1]))  # wide enough for the disclaimer line
    image = Image.fromarray(rgb).resize((plane.shape[1] * scale, plane.shape[0] * scale), Image.Resampling.NEAREST)
    canvas = Image.new("RGB", (image.width, image.height + 30))
    canvas.paste(image, (0, 0))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=10)
    draw.text((3, image.height + 2), caption, fill=(255, 255, 255), font=font)
    draw.text((3, image.height + 15), DEMO_DISCLAIMER, fill=(255, 200, 0), font=font)
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
