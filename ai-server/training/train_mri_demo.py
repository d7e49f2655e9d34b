"""Train the MRI demo segmentation network: a small MONAI 3-D U-Net finding bright synthetic lesions inserted
into the MNI152 2 mm T1 template, with augmentation (intensity scale and gamma, bias field, small affine,
Rician noise). CPU, one thread, deterministic kernels, fixed seed and step count: the same CPU kind and
library versions give the same weights bit for bit.

    python training/train_mri_demo.py           # train, evaluate, write models/mri-lesion-demo/1.1.0/
    python training/train_mri_demo.py --check   # retrain, exit 1 unless it reproduces manifest.json

Held-out metrics are reported on new synthetic cases in the template and on a different real brain:
nibabel's test image `anatomical.nii` (a 33x41x25 T1 crop at 2 mm) with lesions inserted the same way, each
with a 95% bootstrap interval over its cases. `--check` passes when the retrained weights are identical
(and so every metric), or, where they are not (another CPU kind or library version), when every retrained
metric lies inside the manifest's interval.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
from monai.inferers import sliding_window_inference
from monai.losses import DiceCELoss
from monai.networks.nets import UNet

from ai_server import synthetic
from ai_server.evaluation import bootstrap_interval, deterministic, weights_digest, within
from ai_server.pipelines.base import DEMO_DISCLAIMERS as DISCLAIMERS
from ai_server.pipelines.segmentation import normalise

NAME = "mri-lesion-demo"
VERSION = "1.1.0"
OUT = Path(__file__).resolve().parents[1] / "models" / NAME / VERSION
SEED = 20261126
STEPS = 900
BATCH = 3
PATCH = (48, 48, 48)
LESION_RADIUS_MM = (3.0, 18.0)
NO_LESION_FRACTION = 0.15
PREPROCESSING = {
    "spacing_mm": [2.0, 2.0, 2.0],
    "normalise": "foreground_p95",
    "roi_size": [96, 128, 112],
    "overlap": 0.25,
    "sw_batch_size": 1,
}
# One thread: a threaded float sum's order depends on the thread count, and 1.0.0 (2 threads, no
# deterministic kernels) retrained elsewhere 0.09 away from its card.
THREADS = 1
# Held-out cases per test set: 20 gave intervals about 0.2 wide for the augmented Dice; the other brain is a
# small crop, so its cases are cheap.
EVAL_CASES = {"in_template": 40, "other_brain": 100}
# Metrics with a per-case value, hence a bootstrap interval; false-positive voxels are one count on one
# lesion-free volume and are compared exactly.
INTERVAL_METRICS = ("dice", "dice_median", "volume_error_median_pct", "dice_augmented")


def network() -> UNet:
    # Batch norm, not instance norm: statistics learned on patches must hold for whole-volume windows.
    return UNet(
        spatial_dims=3,
        in_channels=1,
        out_channels=2,
        channels=(8, 16, 32, 64),
        strides=(2, 2, 2),
        num_res_units=2,
        norm="batch",
    )


def other_brain() -> np.ndarray:
    """nibabel's anatomical.nii (RAS, LAS-stored) as an axial (slice, row, column) LPS volume."""
    path = Path(nib.__file__).parent / "tests" / "data" / "anatomical.nii"
    image = nib.as_closest_canonical(nib.load(path))  # RAS voxel order
    ras = image.get_fdata(dtype=np.float32)
    return np.ascontiguousarray(ras[::-1, ::-1, :].transpose(2, 1, 0))


def training_pair(
    rng: np.random.Generator, template: np.ndarray, patch: tuple[int, int, int] = PATCH
) -> tuple[np.ndarray, np.ndarray]:
    if rng.random() < NO_LESION_FRACTION:
        image, mask = template, np.zeros(template.shape, np.uint8)
    else:
        image, mask = synthetic.insert_lesion(template, (2.0, 2.0, 2.0), rng, rng.uniform(*LESION_RADIUS_MM))
    return synthetic.augment(image, mask, rng, patch, reference=1.0)


def train(seed: int, steps: int = STEPS, batch: int = BATCH, patch: tuple[int, int, int] = PATCH) -> tuple[UNet, float]:
    """Deterministic: the same arguments give the same weights (tests train a few steps on small patches)."""
    deterministic(seed, THREADS)
    rng = np.random.default_rng(seed)
    template = normalise(synthetic.template_volume(), PREPROCESSING["normalise"]).astype(np.float32)
    net = network()
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)
    optimiser = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=3e-3, total_steps=steps, pct_start=0.1)
    start = time.monotonic()
    net.train()
    for step in range(1, steps + 1):
        pairs = [training_pair(rng, template, patch) for _ in range(batch)]
        x = torch.from_numpy(np.stack([p[0] for p in pairs]))[:, None]
        y = torch.from_numpy(np.stack([p[1] for p in pairs]))[:, None].float()
        optimiser.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        optimiser.step()
        schedule.step()
        if step % 50 == 0:
            print(f"step {step}/{steps} loss {loss.item():.4f} {time.monotonic() - start:.0f} s", flush=True)
    return net.eval(), time.monotonic() - start


def predict(net: torch.nn.Module, volume: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(normalise(volume, PREPROCESSING["normalise"]).astype(np.float32))[None, None]
    with torch.inference_mode():
        logits = sliding_window_inference(x, PREPROCESSING["roi_size"], 1, net, overlap=PREPROCESSING["overlap"])
    return logits[0].argmax(0).numpy().astype(np.uint8)


def dice(prediction: np.ndarray, truth: np.ndarray) -> float:
    overlap = np.count_nonzero(prediction & truth)
    return 2.0 * overlap / max(np.count_nonzero(prediction) + np.count_nonzero(truth), 1)


def evaluate(
    net: torch.nn.Module, base: np.ndarray, radius_mm: tuple[float, float], cases: int, seed: int
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """`cases` lesions of random size in `base` (seeds disjoint from training): Dice and volume error as they
    are, Dice again after one augmentation of each (the kinds of change seen in training), and
    false-positive voxels on `base` alone. Returns the figures with a 95% bootstrap interval over the cases
    for each figure that has a per-case value."""
    rng = np.random.default_rng(seed)
    per_case: dict[str, list[float]] = {"dice": [], "volume_error_pct": [], "dice_augmented": []}
    for _ in range(cases):
        image, mask = synthetic.insert_lesion(base, (2.0, 2.0, 2.0), rng, rng.uniform(*radius_mm))
        prediction = predict(net, image)
        per_case["dice"].append(dice(prediction, mask))
        per_case["volume_error_pct"].append(100 * abs(np.count_nonzero(prediction) / np.count_nonzero(mask) - 1))
        image, mask = synthetic.augment(image, mask, rng)
        per_case["dice_augmented"].append(dice(predict(net, image), mask))
    # (metric, per-case values, statistic, decimals)
    definitions = {
        "dice": (per_case["dice"], np.mean, 3),
        "dice_median": (per_case["dice"], np.median, 3),
        "volume_error_median_pct": (per_case["volume_error_pct"], np.median, 1),
        "dice_augmented": (per_case["dice_augmented"], np.mean, 3),
    }
    figures: dict[str, float] = {}
    intervals: dict[str, list[float]] = {}
    for key, (values, statistic, decimals) in definitions.items():
        figures[key] = round(float(statistic(values)), decimals)
        low, high = bootstrap_interval(values, statistic, seed=seed)
        intervals[key] = [round(low, decimals), round(high, decimals)]
    figures["false_positive_voxels"] = int(np.count_nonzero(predict(net, base)))
    return figures, intervals


def metrics_of(net: torch.nn.Module, seconds: float) -> tuple[dict[str, float], dict[str, list[float]]]:
    """(metrics, their 95% bootstrap intervals), keyed `<figure>_<test set>`."""
    metrics: dict[str, float] = {}
    intervals: dict[str, list[float]] = {}
    test_sets = {
        "in_template": (synthetic.template_volume(), (4.0, 15.0), SEED + 1),
        "other_brain": (other_brain(), (4.0, 8.0), SEED + 2),  # the crop is 50 mm tall: smaller lesions
    }
    for suffix, (base, radius_mm, seed) in test_sets.items():
        figures, bounds = evaluate(net, base, radius_mm, EVAL_CASES[suffix], seed)
        metrics |= {f"{key}_{suffix}": value for key, value in figures.items()}
        intervals |= {f"{key}_{suffix}": value for key, value in bounds.items()}
        metrics[f"eval_cases_{suffix}"] = EVAL_CASES[suffix]
    metrics |= {"training_seconds": round(seconds), "steps": STEPS, "seed": SEED, "threads": THREADS}
    return metrics, intervals


def save(net: torch.nn.Module, metrics: dict[str, float], intervals: dict[str, list[float]], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    weights = out / "model.ts"
    torch.jit.script(net).save(str(weights))
    params = sum(p.numel() for p in net.parameters())
    manifest = {
        "name": NAME,
        "version": VERSION,
        "task": "segmentation",
        "format": "torchscript",
        "weights": "model.ts",
        "sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
        "weights_digest": weights_digest(net),
        "input": {"modality": "MR", "channels": [{"name": "T1", "sequence": ["T1"], "description": r"\bT1\b"}]},
        "preprocessing": PREPROCESSING,
        "labels": {"1": "lesion"},
        "metrics": metrics,
        "metrics_ci95": intervals,
        "metrics_ci": "95% percentile bootstrap over the held-out cases, 2000 resamples",
        "parameters": params,
        "card": "card.md",
        "disclaimer": DISCLAIMERS["en"],
        "disclaimers": DISCLAIMERS,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    write_card(out, manifest)


def write_card(out: Path, manifest: dict) -> None:
    """card.md from the manifest: every figure with its interval."""
    metrics, intervals = manifest["metrics"], manifest["metrics_ci95"]
    shown = {key: f"{metrics[key]} ({low}-{high})" for key, (low, high) in intervals.items()}
    (out / "card.md").write_text(
        CARD.format(
            params=manifest["parameters"],
            size_kb=(out / manifest["weights"]).stat().st_size // 1024,
            digest=manifest["weights_digest"],
            disclaimer_en=manifest["disclaimers"]["en"],
            disclaimer_ko=manifest["disclaimers"]["ko"],
            **(metrics | shown),
        ),
        encoding="utf-8",
    )


def check(net: torch.nn.Module, metrics: dict[str, float], shipped: dict) -> list[str]:
    """Problems of a retrain against the shipped manifest: none when the weights are identical and so is every
    metric, or when the weights differ and every metric lies inside its shipped interval."""
    identical = weights_digest(net) == shipped.get("weights_digest")
    print(f"weights {'identical to' if identical else 'differ from'} the manifest's ({shipped.get('weights_digest')})")
    problems = []
    for key, interval in shipped["metrics_ci95"].items():
        old, new = shipped["metrics"][key], metrics[key]
        if identical and new != old:
            problems.append(f"{key}: {new} from identical weights, manifest {old}: the evaluation is not deterministic")
        elif not within(new, interval):
            problems.append(f"{key}: retrained {new}, outside the manifest's 95% interval {interval} (card {old})")
    for key in ("false_positive_voxels_in_template", "false_positive_voxels_other_brain"):
        if identical and metrics[key] != shipped["metrics"][key]:
            problems.append(f"{key}: {metrics[key]} from identical weights, manifest {shipped['metrics'][key]}")
    return problems


CARD = """# mri-lesion-demo 1.1.0: synthetic-lesion demo model, not for clinical use

## Disclaimer
- en: {disclaimer_en}
- ko: {disclaimer_ko}

## What it is
A MONAI 3-D U-Net (channels 8-16-32-64, 2 residual units, batch norm, {params} parameters, {size_kb} KB
TorchScript) that labels bright blobs in one T1-weighted MR volume resampled to 2 mm. Label 1 = "lesion".

## Data provenance
No patient data. Training images are the MNI152 2009 T1 template at 2 mm (nilearn, offline) with one
synthetic lesion per case (an irregular bright blob, 1.3-1.8x white matter, radius 3-18 mm, sharp edge;
15% of cases have none), augmented with intensity scale and gamma, a smooth bias field, a small affine
(rotation up to 10 degrees, scale 0.9-1.1; a third of the patches are exact crops) and Rician noise.
Produced by `training/train_mri_demo.py`, seed {seed}, {steps} steps of 3 patches of 48^3 voxels on CPU,
{threads} thread with torch's deterministic algorithms: {training_seconds} s. Weights digest (sha256 over the
parameters and buffers, what `--check` compares): `{digest}`.

## Intended use
Demonstrating the CDSS imaging pipeline end to end (DICOM series -> volume -> network -> DICOM SEG, NIfTI,
overlays, volumes in mL). Not a tumour model; never for diagnosis, treatment or any clinical decision.

## Metrics (held out, seeds disjoint from training; 95% bootstrap interval over the cases in brackets)
| test set (cases) | mean Dice | median Dice | median volume error (%) | mean Dice, augmented \
| false-positive voxels, no lesion |
|---|---|---|---|---|---|
| template, radius 4-15 mm ({eval_cases_in_template}) | {dice_in_template} | {dice_median_in_template} \
| {volume_error_median_pct_in_template} | {dice_augmented_in_template} | {false_positive_voxels_in_template} |
| other brain, radius 4-8 mm ({eval_cases_other_brain}) | {dice_other_brain} | {dice_median_other_brain} \
| {volume_error_median_pct_other_brain} | {dice_augmented_other_brain} | {false_positive_voxels_other_brain} |

"Other brain" is a different real T1 head: nibabel's test image `anatomical.nii`, a 66x82x50 mm crop.
"Augmented": the same cases after one random augmentation each (intensity, bias field, affine, noise).
False-positive voxels are counted on the one lesion-free volume of each set (no interval).

`--check` retrains: identical weights (same CPU kind and library versions) must give every figure exactly;
otherwise every retrained figure must lie inside its interval above. 1.1.0 replaces 1.0.0 (two threads,
no deterministic kernels, 20 cases per set), whose retrain on another machine left its card by up to 0.09.

## Limitations
- It has only ever seen one brain (the template): it finds "bright spot unlike this template"; the
  other-brain figure is one small crop of one real head and says little about real scans.
- Real tumours are not sharp-edged bright blobs: enhancement rings, oedema, necrosis, blurred borders and
  low-contrast lesions are absent from training, and so are skull, fat, vessels and artefacts of real images.
- Volumes depend on contrast and size (measured on 1.0.0, 7 seeds each): at 1.3x white matter lesions are
  under-segmented by 20-30%; at 1.6x, 12 mm lesions come out 0-13% large and 15-18 mm lesions within 8%;
  at 1.8x, 12 mm lesions 8-19% large. A one-voxel shell is half the volume of a 12 mm lesion at 2 mm.
- T1 only, one channel, 2 mm isotropic input; anything else is resampled and may fail silently.
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="retrain and compare with manifest.json")
    parser.add_argument("--out", type=Path, default=OUT, help=f"where to write the model (default {OUT})")
    args = parser.parse_args()
    net, seconds = train(SEED)
    metrics, intervals = metrics_of(net, seconds)
    print(json.dumps({"metrics": metrics, "metrics_ci95": intervals}, indent=2))
    if args.check:
        problems = check(net, metrics, json.loads((OUT / "manifest.json").read_text()))
        for line in problems or [f"{NAME} {VERSION}: metrics reproduce"]:
            print(line)
        return 1 if problems else 0
    save(net, metrics, intervals, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
