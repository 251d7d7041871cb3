"""Weight-only int4 and int8 matrix products through torch's own kernels.

At batch 1 a decode step reads every weight once for a handful of multiply-adds, so its
time is the time to stream the weights from memory: 4-bit weights read a quarter of what
bf16 weights read. torch ships the kernels (no extra package): on a CPU
``_weight_int4pack_mm_for_cpu`` (groupwise asymmetric int4) and ``_weight_int8pack_mm``
(per-channel int8); on CUDA ``_weight_int4pack_mm`` (the "tinygemm" kernel). torchao's
int4 CPU layout calls the same two ATen ops; we call them directly instead of adding a
dependency for the wrapper.

Conventions (those of the tinygemm kernels): a group of `group` consecutive input weights
of one output row shares a scale s and a zero z, and a 4-bit code q in 0..15 stands for
``(q - 8) · s + z``. An affine code ``q · d + m`` (GGUF's Q4_1 and Q4_K) is the same thing
with ``s = d`` and ``z = m + 8 d``, so such blocks are taken as they are (`Int4Groups`).

Activations go in as bf16 on both devices: the CPU int4 kernel is about 40× slower with
fp32 activations (measured on a 2-core EPYC with AVX-512 BF16).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch

GROUP = 32
"""Input weights per int4 group: the block size of GGUF's 4-bit formats."""




@dataclass(frozen=True)
class Int4Groups:
    """An [N, K] weight as 4-bit codes with a scale and a zero per group (unpacked)."""

    codes: torch.Tensor
    """[N, K] uint8 in 0..15."""
    scales: torch.Tensor
    """[N, K / group] float32."""
    zeros: torch.Tensor
    """[N, K / group] float32: the value of code 8."""
    group: int

    def dequantize(self) -> torch.Tensor:
        """The float32 weight [N, K] the codes stand for."""
        n, k = self.codes.shape
        codes = self.codes.float().view(n, k // self.group, self.group)
        weight = (codes - 8) * self.scales[..., None] + self.zeros[..., None]
        return weight.view(n, k)


def int4_groups(weight: torch.Tensor, group: int = GROUP) -> Int4Groups:
    """Round a float weight [N, K] to int4 groups (asymmetric, min to max of each group)."""
    n, k = weight.shape
    if k % group:
        raise ValueError(f"{k} input features are not a multiple of the group size {group}")
    grouped = weight.float().view(n, k // group, group)
    low = grouped.amin(dim=-1)
    high = grouped.amax(dim=-1)
    scales = ((high - low) / 15).clamp(min=1e-8)  # [N, K/g]
    codes = ((grouped - low[..., None]) / scales[..., None]).round().clamp(0, 15)
    return Int4Groups(codes.to(torch.uint8).view(n, k), scales, low + 8 * scales, group)


def concat_groups(parts: list[Int4Groups]) -> Int4Groups:
    """Stack the rows of several int4 weights with one group size (a fused projection)."""
    group = parts[0].group
    if any(part.group != group for part in parts):
        raise ValueError("fused weights need one group size")
    return Int4Groups(
        torch.cat([p.codes for p in parts]),
        torch.cat([p.scales for p in parts]),
        torch.cat([p.zeros for p in parts]),
        group,
    )


class QuantWeight(Protocol):
    """A quantized [N, K] weight that multiplies activations x [M, K] into [M, N]."""

    out_features: int
    nbytes: int

    def tensors(self) -> dict[str, torch.Tensor]:
        """The tensors that hold the weight, for saving."""
        ...

    def matmul(self, x: torch.Tensor) -> torch.Tensor:
        """Multiply x [M, K] by the weight's transpose: [M, N] in x's dtype."""
        ...


class Int4Weight:
    """An int4 weight packed for the device's kernel."""

    def __init__(self, packed: torch.Tensor, scales_zeros: torch.Tensor, group: int) -> None:
        """Wrap a packed weight and its [K/g, N, 2] bf16 scales and zeros (`pack`, `load`)."""
        self.packed = packed
        self.scales_zeros = scales_zeros
        self.group = group
        self.out_features = int(scales_zeros.shape[1])
        self.cuda = packed.device.type == "cuda"
        self.nbytes = packed.numel() * packed.element_size() + scales_zeros.numel() * 2

    @classmethod
    def pack(cls, groups: Int4Groups, device: torch.device) -> Int4Weight:
        """Pack the codes and the scales/zeros as the device's kernel wants them."""
        k = groups.codes.shape[1]
        # [K/g, N, 2]: scale and zero of each group of each output row.
        pairs = torch.stack([groups.scales, groups.zeros], dim=-1).transpose(0, 1)
        scales_zeros = pairs.contiguous().to(device=device, dtype=torch.bfloat16)
        if device.type == "cuda":
            # The CUDA kernel takes two codes per byte, the even column in the high nibble,
            # and tiles K by innerKTiles * 16: 8 where K allows (the fastest), less otherwise.
            codes = groups.codes.to(device)
            paired = (codes[:, ::2] << 4 | codes[:, 1::2]).contiguous()
            tiles = next(t for t in (8, 4, 2) if k % (t * 16) == 0)
            packed = torch.ops.aten._convert_weight_to_int4pack(paired, tiles)
        else:
            packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(
                groups.codes.to(torch.int32), 1
            )
        return cls(packed, scales_zeros, groups.group)

    def tensors(self) -> dict[str, torch.Tensor]:
        """What `load` needs, for saving."""
        return {"packed": self.packed, "scales_zeros": self.scales_zeros,
                "group": torch.tensor(self.group)}

    @classmethod
    def load(cls, tensors: dict[str, torch.Tensor], device: torch.device) -> Int4Weight:
        """The weight `tensors` saved, copied into memory of its own.

        Read as they come from a saved file (pages of the file's mapping), the 1.5B
        model's int4 products took 48 ms per decode step instead of 24.
        """
        return cls(tensors["packed"].to(device, copy=True),
                   tensors["scales_zeros"].to(device, copy=True), int(tensors["group"]))

    def matmul(self, x: torch.Tensor) -> torch.Tensor:
        """Multiply x [M, K] by the weight's transpose: [M, N] in x's dtype."""
        dtype = x.dtype
        x = x.to(torch.bfloat16)
        if self.cuda:
            out: torch.Tensor = torch.ops.aten._weight_int4pack_mm(
                x, self.packed, self.group, self.scales_zeros
            )
        else:
            out = torch.ops.aten._weight_int4pack_mm_for_cpu(
                x, self.packed, self.group, self.scales_zeros
            )
        return out.to(dtype)


class Int8Weight:
    """A per-output-channel int8 weight: ``w[n, k] = q[n, k] · s[n]``."""

    def __init__(self, codes: torch.Tensor, scales: torch.Tensor) -> None:
        """Wrap int8 codes [N, K] and their bf16 row scales [N] (`round`, `load`)."""
        self.codes = codes
        self.scales = scales
        self.out_features = int(codes.shape[0])
        self.cuda = codes.device.type == "cuda"
        self.nbytes = codes.numel() + scales.numel() * 2

    @classmethod
    def round(cls, weight: torch.Tensor, device: torch.device) -> Int8Weight:
        """Round a float weight [N, K] to int8 with one symmetric scale per row."""
        weight = weight.float()
        scales = (weight.abs().amax(dim=1) / 127).clamp(min=1e-8)  # [N]
        codes = (weight / scales[:, None]).round().clamp(-127, 127).to(torch.int8)
        return cls(codes.to(device), scales.to(device=device, dtype=torch.bfloat16))

    def tensors(self) -> dict[str, torch.Tensor]:
        """What `load` needs, for saving."""
        return {"codes": self.codes, "scales": self.scales}

    @classmethod
    def load(cls, tensors: dict[str, torch.Tensor], device: torch.device) -> Int8Weight:
        """The weight `tensors` saved, copied into memory of its own (see `Int4Weight.load`)."""
        return cls(tensors["codes"].to(device, copy=True),
                   tensors["scales"].to(device, copy=True))

    def matmul(self, x: torch.Tensor) -> torch.Tensor:
        """Multiply x [M, K] by the weight's transpose: [M, N] in x's dtype."""
        dtype = x.dtype
        x = x.to(torch.bfloat16)
        if self.cuda:
            # No int8 weight-only kernel on CUDA: the cast fuses into the product when the
            # step is compiled.
            out = torch.nn.functional.linear(x, self.codes.to(x.dtype)) * self.scales
        else:
            out = torch.ops.aten._weight_int8pack_mm(x, self.codes, self.scales)
        return out.to(dtype)


def int4_supported(in_features: int, device: torch.device, group: int = GROUP) -> bool:
    """Tell whether the device's int4 kernel takes a weight with this many input features."""
    if in_features % group:
        return False
    if device.type == "cuda":
        return in_features % 32 == 0  # innerKTiles 2 at least
    return True
