"""The Dice overlap the GPU check (benchmarks/gpu_check.py) uses to compare a CUDA float16 mask with the CPU's."""

import numpy as np
import pytest

from ai_server.evaluation import dice


def test_dice_of_identical_disjoint_and_half_overlapping_masks():
    a = np.zeros((4, 8, 8), dtype=np.uint8)
    a[1:3, 2:6, 2:6] = 1  # 32 voxels
    assert dice(a, a.copy()) == 1.0
    assert dice(a, np.roll(a, 4, axis=2)) == 0.0  # moved clear of itself
    b = np.zeros_like(a)
    b[1:3, 2:6, 4:8] = 1  # 32 voxels, 16 shared
    assert dice(a, b) == pytest.approx(2 * 16 / 64)


def test_dice_counts_any_label_as_foreground_and_two_empty_masks_agree():
    a = np.zeros((2, 3, 3), dtype=np.uint8)
    b = a.copy()
    assert dice(a, b) == 1.0
    a[0, 0, 0], b[0, 0, 0] = 1, 2  # a label value other than 1 is still lesion
    assert dice(a, b) == 1.0
    b[1, 1, 1] = 1
    assert dice(a, b) == pytest.approx(2 / 3)


def test_dice_refuses_masks_of_different_shapes():
    with pytest.raises(ValueError, match="different shapes"):
        dice(np.zeros((2, 2, 2)), np.zeros((2, 2, 3)))
