"""The four series of a demo brain-tumour MR exam (T1, T1 post-contrast, T2, FLAIR) from one synthetic case
(synthetic.make_case): the T1 is the case itself, the others are derived from the lesion-free template and
the lesion mask by simple intensity maps, on the same grid, so that the viewer has sequences to show side
by side and a sequence type to choose them by.

A demo picture, nothing more: these maps make fluid bright in the T2, dark in the FLAIR and the lesion's rim
bright after "contrast", roughly as a radiologist expects to see it; they are not a model of MR physics,
relaxation times or contrast uptake, and no network is trained or tested on them.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from ai_server.synthetic import Case, brain_mask

# Tissue level relative to white matter (the template's 95th percentile in tissue): CSF lies below
# FLUID_LOW, grey and white matter above FLUID_HIGH, a ramp between.
FLUID_LOW, FLUID_HIGH = 0.25, 0.5
HEAD_RAMP = 0.05  # below this level a voxel is background, fading in above it (no hard edge at the surface)
OEDEMA_VOXELS = 3  # the oedema reaches about this many voxels beyond the lesion (6 mm on the 2 mm grid)
RIM_VOXELS = 1  # the enhancing rim: the lesion's outer voxel layer
RIM_GAIN = 1.5  # how much brighter the rim is after "contrast"
CORE_GAIN = 0.6  # the core inside the rim darker: a ring on screen, not the T1's bright blob again


class Sequence(NamedTuple):
    name: str  # the viewer's and the segmentation pipeline's sequence type
    description: str  # SeriesDescription: what the sequence guessers read
    number: int  # SeriesNumber


SEQUENCES = (
    Sequence("T1", "T1 AX (synthetic demo)", 1),
    Sequence("T1C", "T1 AX post GD (synthetic demo)", 2),
    Sequence("T2", "T2 AX (synthetic demo)", 3),
    Sequence("FLAIR", "FLAIR AX (synthetic demo)", 4),
)


def _grow(mask: np.ndarray, voxels: int) -> np.ndarray:
    """Dilation by a (2 * voxels + 1) cube; a max-pool needs no image-processing library."""
    tensor = torch.from_numpy(mask.astype(np.float32))[None, None]
    return F.max_pool3d(tensor, 2 * voxels + 1, stride=1, padding=voxels)[0, 0].numpy() > 0


def _soften(weight: np.ndarray) -> np.ndarray:
    """A 3-voxel box average: oedema fades out instead of ending at a cube's face."""
    tensor = torch.from_numpy(weight.astype(np.float32))[None, None]
    return F.avg_pool3d(tensor, 3, stride=1, padding=1, count_include_pad=False)[0, 0].numpy()


def exam(case: Case, base: np.ndarray) -> dict[str, np.ndarray]:
    """{sequence name: volume} in SEQUENCES order; `base` is the case's volume before the lesion went in."""
    level = float(np.percentile(base[brain_mask(base)], 95))
    tissue_level = np.clip(base / level, 0.0, 1.0)
    head = np.clip(tissue_level / HEAD_RAMP, 0.0, 1.0)
    fluid = np.clip((FLUID_HIGH - tissue_level) / (FLUID_HIGH - FLUID_LOW), 0.0, 1.0)
    lesion = case.mask.astype(bool)
    oedema = _soften(_grow(lesion, OEDEMA_VOXELS) & ~lesion) * (1.0 - fluid)
    oedema[lesion] = 0.0
    # The lesion's own texture (its T1 relative to its mean) carried into every sequence.
    texture = np.ones_like(base, dtype=np.float32)
    if lesion.any():
        texture[lesion] = case.volume[lesion] / float(case.volume[lesion].mean())

    def derived(tissue: np.ndarray, oedema_level: float, lesion_level: float) -> np.ndarray:
        out = (tissue * (1.0 - oedema) + oedema_level * oedema) * head
        out[lesion] = lesion_level * texture[lesion]
        return (out * level).astype(np.float32)

    # T2: the T1 tissue contrast roughly inverted, fluid brightest; FLAIR: the same with fluid dark.
    t2 = derived(np.clip(1.35 - tissue_level, 0.3, 1.3), 1.1, 1.35)
    flair = derived((1.0 - fluid) * (0.55 + 0.35 * (1.0 - tissue_level)) + fluid * 0.08, 1.0, 1.15)
    t1c = case.volume.astype(np.float32, copy=True)
    rim = lesion & _grow(~lesion, RIM_VOXELS)  # lesion voxels next to the outside
    t1c[rim] *= RIM_GAIN
    t1c[lesion & ~rim] *= CORE_GAIN
    return {"T1": case.volume.astype(np.float32), "T1C": t1c, "T2": t2, "FLAIR": flair}
