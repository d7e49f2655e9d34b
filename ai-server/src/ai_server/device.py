"""The compute device, chosen once at start-up: CUDA when present (unless AI_DEVICE forces CPU)."""

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

    @property
    def kind(self) -> str:
        return self.torch_device.type

    def autocast(self):
        """Mixed precision on GPU; full precision on CPU (bfloat16 on these CPUs is slower, not faster)."""
        if self.kind == "cuda":
            return torch.autocast("cuda", dtype=torch.float16)
        return contextlib.nullcontext()

    def describe(self) -> dict:
        return {"type": self.kind, "name": self.name, "memory_fraction": self.memory_fraction}


def select_device(requested: str = "auto", *, gpu_memory_limit: float = 0.9, threads: int = 0) -> Device:
    if threads:
        torch.set_num_threads(threads)
    if requested == "cpu" or (requested == "auto" and not torch.cuda.is_available()):
        device = Device(torch.device("cpu"), "cpu", None)
    else:
        if not torch.cuda.is_available():
            raise RuntimeError(f"AI_DEVICE={requested} but no CUDA device is available")
        torch_device = torch.device("cuda" if requested == "auto" else requested)
        torch.cuda.set_per_process_memory_fraction(gpu_memory_limit, torch_device)
        device = Device(torch_device, torch.cuda.get_device_name(torch_device), gpu_memory_limit)
    logger.info("inference device: %s", device.describe())
    return device
