"""The training device and the precision of its forward passes."""

from __future__ import annotations

import torch


def select_device(cuda: bool) -> torch.device:
    return torch.device("cuda") if cuda else torch.device("cpu")


def native_bfloat16(device: torch.device) -> bool:
    """Whether ``device`` multiplies bfloat16 matrices in hardware: a CUDA GPU with native
    bf16 (Ampere and newer; V100 and T4 only emulate it, slowly), or a CPU with AMX tiles
    (where it measured 6x the float32 matmul rate)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":
        amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
        return bool(amx is not None and amx())
    return False


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` -> ``bfloat16`` where the device has native bf16 matmuls, else ``float32``."""
    if precision == "auto":
        return "bfloat16" if native_bfloat16(device) else "float32"
    return precision


def describe(device: torch.device) -> str:
    return f"{device}{' (' + torch.cuda.get_device_name(device) + ')' if device.type == 'cuda' else ''}"
