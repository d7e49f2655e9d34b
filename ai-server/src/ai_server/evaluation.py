"""What the training scripts share to make a model card reproduce: a deterministic CPU setup, a digest of a
network's weights, and bootstrap confidence intervals of a metric over its held-out cases; and the Dice overlap
of two masks (benchmarks/gpu_check.py compares a GPU run's mask with the CPU's).

A retrain on the same CPU kind and library versions gives the same weights bit for bit (checked by the
digest); anywhere else float sums may round differently, so a retrain's metric is checked against the
interval the card states instead of against its point value."""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
from collections.abc import Callable, Sequence

import numpy as np

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_LEVEL = 0.95


def deterministic(seed: int, threads: int = 1) -> None:
    """Seed every generator training touches and make torch pick deterministic kernels on a fixed number of
    threads (a threaded reduction sums in an order that depends on the thread count)."""
    import torch

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    random.seed(seed)
    np.random.seed(seed)  # for libraries that use numpy's legacy global generator
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(threads)
    # settable only before the first parallel work: a second training in one process keeps the first setting
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(threads)


def weights_digest(module) -> str:
    """sha256 over the network's parameters and buffers (names, dtypes, shapes and bytes, in order): equal
    digests mean identical weights, whatever the file container writes around them."""
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        array = tensor.detach().cpu().contiguous().numpy()
        digest.update(f"{name}:{array.dtype}:{array.shape};".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def bootstrap_interval(
    values: Sequence[float],
    statistic: Callable[[np.ndarray], float] = np.mean,
    *,
    seed: int,
    resamples: int = BOOTSTRAP_RESAMPLES,
    level: float = BOOTSTRAP_LEVEL,
) -> tuple[float, float]:
    """Percentile bootstrap interval of `statistic` over per-case values: the cases are resampled with
    replacement `resamples` times with a seeded generator, so the same values give the same interval. The
    values may be case indices when the statistic needs more than one number per case (a C-index)."""
    cases = np.asarray(values)
    if cases.ndim != 1 or len(cases) < 2:
        raise ValueError("a bootstrap interval needs at least two cases")
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(cases), size=(resamples, len(cases)))
    estimates = np.array([statistic(cases[row]) for row in draws])
    tail = (1 - level) / 2
    low, high = np.quantile(estimates, [tail, 1 - tail])
    return float(low), float(high)


def within(value: float, interval: Sequence[float]) -> bool:
    return interval[0] <= value <= interval[1]


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice overlap of two masks' foregrounds (label > 0): 2|A∩B| / (|A| + |B|); 1.0 when both are empty.
    Masks of different shapes are an error, not an overlap of 0."""
    if a.shape != b.shape:
        raise ValueError(f"masks of different shapes: {a.shape} and {b.shape}")
    fa, fb = a > 0, b > 0
    total = int(np.count_nonzero(fa)) + int(np.count_nonzero(fb))
    if total == 0:
        return 1.0
    return 2.0 * int(np.count_nonzero(fa & fb)) / total
