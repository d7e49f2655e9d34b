"""The compute device, chosen once at start-up: CUDA when present (unless AI_DEVICE forces CPU), and whether
the forward pass runs in float16 there (AI_FP16, on by default)."""

import contextlib
import logging
from dataclasses import dataclass

import torch

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Device:
    torch_device: torch.device
    name: str  # "cpu" or the GPU's name
    memory_fraction: float | None  # of the GPU's memory this process may take
    fp16: bool = True  # on CUDA, the forward pass under float16 autocast (AI_FP16)

    @property
    def kind(self) -> str:
        return self.torch_device.type

    def autocast(self):
        """Mixed precision (float16) on GPU unless AI_FP16 is off; full precision on CPU (bfloat16 on these
        CPUs is slower, not faster)."""
        if self.kind == "cuda" and self.fp16:
            return torch.autocast("cuda", dtype=torch.float16)
        return contextlib.nullcontext()

    def describe(self) -> dict:
        precision = "fp16" if self.kind == "cuda" and self.fp16 else "fp32"
        return {"type": self.kind, "name": self.name, "memory_fraction": self.memory_fraction, "precision": precision}


def select_device(
    requested: str = "auto", *, gpu_memory_limit: float = 0.9, threads: int = 0, fp16: bool = True
) -> Device:
    if threads:
        torch.set_num_threads(threads)
    if requested == "cpu" or (requested == "auto" and not torch.cuda.is_available()):
        device = Device(torch.device("cpu"), "cpu", None, fp16)
    else:
        if not torch.cuda.is_available():
            raise RuntimeError(f"AI_DEVICE={requested} but no CUDA device is available")
        torch_device = torch.device("cuda" if requested == "auto" else requested)
        torch.cuda.set_per_process_memory_fraction(gpu_memory_limit, torch_device)
        device = Device(torch_device, torch.cuda.get_device_name(torch_device), gpu_memory_limit, fp16)
    logger.info("inference device: %s", device.describe())
    return device
