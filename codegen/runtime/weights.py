"""The weights the slot forward multiplies by: fused projections, dense and quantized.

The projections that read the same input are fused into one matrix each (q, k and v;
gate and up), so a decode step makes four matrix products per layer instead of seven.
The fused dense weight is one tensor whose row blocks become the model's own modules'
weights (views, no second copy), so transformers' forward, ``model.generate`` and the
training code keep working on the same memory.

With quantization, each fused projection also gets an int4 or int8 copy
(`codegen.runtime.quant`) used when few rows are multiplied (decoding); more rows (a prompt chunk)
go through the dense bf16 weight. Measured on 2 cores of an AMD EPYC with AVX-512 BF16 but
no AMX (`bench/matmul_rows.py`, RESULTS.md): int4 is 5-6× faster at 1 row, 3-3.6× at 4,
about even at 16, 20-30 % slower at 32, and even from 64 rows on. CPUs with AMX compute bf16
products in tiles and should favour bf16 for prompts more (not measured here).
From a GGUF file, 4-bit blocks are taken as they are (`codegen.runtime.gguf_weights`).
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from codegen.runtime.quant import (
    GROUP,
    Int4Groups,
    Int4Weight,
    Int8Weight,
    QuantWeight,
    concat_groups,
    int4_groups,
    int4_supported,
)

logger = logging.getLogger(__name__)

QUANTIZED_UP_TO_ROWS = 16
"""Products of at most this many rows use the quantized weight, longer ones the dense one."""


class Projection:
    """One fused linear map: y = x Wᵀ + b, W the row blocks of `names` stacked."""

    def __init__(
        self,
        names: Sequence[str],
        dense: torch.Tensor,
        bias: torch.Tensor | None,
        splits: Sequence[int],
    ) -> None:
        """Wrap a dense [N, K] weight whose row blocks of `splits` sizes are `names`."""
        self.names = tuple(names)
        self.dense = dense
        self.bias = bias
        self.splits = tuple(splits)
        self.quantized: dict[str, QuantWeight] = {}
        """Quantized copies for products of few rows, by mode ("int4", "int8"): engines
        sharing a model (a draft, a benchmark's side-by-side runs) may decode differently."""
        offsets = [0]
        for size in splits:
            offsets.append(offsets[-1] + size)
        self.columns = tuple(zip(offsets[:-1], offsets[1:], strict=True))
        """Output columns of each name."""

    @property
    def shape(self) -> tuple[int, int]:
        """[N, K]."""
        return int(self.dense.shape[0]), int(self.dense.shape[1])

    def __call__(self, x: torch.Tensor, mode: str = "off") -> torch.Tensor:
        """Project x [M, K] to [M, N], with the `mode` copy when few rows are multiplied."""
        if mode != "off" and x.shape[0] <= QUANTIZED_UP_TO_ROWS:
            y = self.quantized[mode].matmul(x)
            return y if self.bias is None else y + self.bias
        return F.linear(x, self.dense, self.bias)


@dataclass(frozen=True)
class Layer:
    """One decoder layer's weights."""

    input_norm: torch.Tensor
    qkv: Projection
    o: Projection
    post_norm: torch.Tensor
    gate_up: Projection
    down: Projection


def _fuse(model: Any, names: Sequence[str]) -> Projection:
    """Stack the weights (and biases) of modules into one tensor and make theirs views of it."""
    modules = [model.get_submodule(name) for name in names]
    if len(modules) == 1:
        module = modules[0]
        return Projection(names, module.weight.data, _bias(module), [module.out_features])
    weight = torch.cat([m.weight.data for m in modules])
    biases = [_bias(m) for m in modules]
    bias = None
    if any(b is not None for b in biases):
        bias = torch.cat([
            b if b is not None else weight.new_zeros(m.out_features)
            for b, m in zip(biases, modules, strict=True)
        ])
    start = 0
    for module in modules:
        end = start + module.out_features
        module.weight.data = weight[start:end]
        if module.bias is not None:
            assert bias is not None
            module.bias.data = bias[start:end]
        start = end
    return Projection(names, weight, bias, [m.out_features for m in modules])


def _bias(module: Any) -> torch.Tensor | None:
    bias = getattr(module, "bias", None)
    return None if bias is None else bias.data


_READ: weakref.WeakKeyDictionary[Any, tuple[list[Layer], Projection]] = (
    weakref.WeakKeyDictionary()
)
"""The fused weights of each model read so far (a draft model serves several engines)."""


def read_layers(model: Any) -> tuple[list[Layer], Projection]:
    """The decoder layers' weights, fused, and the output projection (lm_head)."""
    found = _READ.get(model)
    if found is None:
        found = _READ[model] = _read_layers(model)
    return found


def _read_layers(model: Any) -> tuple[list[Layer], Projection]:
    layers = []
    for index, layer in enumerate(model.model.layers):
        prefix = f"model.layers.{index}"
        attn, mlp = f"{prefix}.self_attn", f"{prefix}.mlp"
        layers.append(Layer(
            input_norm=layer.input_layernorm.weight.data,
            qkv=_fuse(model, [f"{attn}.q_proj", f"{attn}.k_proj", f"{attn}.v_proj"]),
            o=_fuse(model, [f"{attn}.o_proj"]),
            post_norm=layer.post_attention_layernorm.weight.data,
            gate_up=_fuse(model, [f"{mlp}.gate_proj", f"{mlp}.up_proj"]),
            down=_fuse(model, [f"{mlp}.down_proj"]),
        ))
    head = model.lm_head
    return layers, Projection(["lm_head"], head.weight.data, _bias(head), [head.out_features])


def projections(layers: Sequence[Layer], head: Projection) -> list[Projection]:
    """Every projection, in order."""
    found = [p for layer in layers for p in (layer.qkv, layer.o, layer.gate_up, layer.down)]
    return [*found, head]


def quantize(
    layers: Sequence[Layer],
    head: Projection,
    mode: str,
    gguf: Path | None = None,
    saved: Path | None = None,
) -> str:
    """Give every projection an `mode` ("int4" or "int8") copy; return what was done.

    With `gguf`, the weights are read from that file (its 4-bit blocks kept as they are for
    int4); otherwise they are rounded from the dense weights. With `saved`, the result is
    read from that file when it is there and written to it otherwise: rounding a 1.5B
    model's weights takes a minute on two cores, reading them back a second.
    """
    assert mode in ("int4", "int8"), mode
    every = projections(layers, head)
    if all(mode in p.quantized for p in every):
        return _summary(layers, head, mode)
    if saved is not None and saved.is_file():
        try:
            _load(every, mode, saved)
            return _summary(layers, head, mode) + " (saved)"
        except Exception:  # noqa: BLE001 - a damaged or stale file is made again
            logger.warning("could not read the quantized weights in %s; making them again",
                           saved, exc_info=True)
    summary = _round(every, mode, gguf)
    if saved is not None:
        _save(every, mode, saved)
    return summary


def _round(every: Sequence[Projection], mode: str, gguf: Path | None) -> str:
    source: Mapping[str, Int4Groups | torch.Tensor] = {}
    if gguf is not None:
        from codegen.runtime.gguf_weights import read_projections

        source = dict(read_projections(gguf))
    kept = rounded = 0
    for projection in every:
        device = projection.dense.device
        parts = [source.get(name) for name in projection.names]
        if mode == "int8" or not int4_supported(projection.shape[1], device):
            weights = [
                part.dequantize() if isinstance(part, Int4Groups) else part for part in parts
            ]
            if all(w is not None for w in weights):
                whole = torch.cat([w for w in weights if w is not None])
            else:
                whole = projection.dense
            projection.quantized[mode] = Int8Weight.round(whole, device)
            continue
        groups = []
        for name, part in zip(projection.names, parts, strict=True):
            if isinstance(part, Int4Groups):
                groups.append(part)
                kept += 1
                continue
            rounded += 1
            dense = part if part is not None else _rows(projection, name)
            groups.append(int4_groups(dense, GROUP))
        projection.quantized[mode] = Int4Weight.pack(concat_groups(groups), device)
    summary = f"{mode}, {sum(_nbytes(p, mode) for p in every) / 2**20:.0f} MiB"
    if mode == "int4" and gguf is not None:
        summary += f", {kept} weights kept from 4-bit GGUF blocks, {rounded} rounded to 4 bits"
    return summary


def _save(every: Sequence[Projection], mode: str, path: Path) -> None:
    """Write the quantized copies (atomically: a partial file is never read)."""
    from safetensors.torch import save_file

    tensors: dict[str, torch.Tensor] = {}
    kinds = []
    for index, projection in enumerate(every):
        weight = projection.quantized[mode]
        kinds.append("int4" if isinstance(weight, Int4Weight) else "int8")
        for key, tensor in weight.tensors().items():
            tensors[f"{index}.{key}"] = tensor.detach().cpu().contiguous()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    try:
        save_file(tensors, str(partial), metadata={"kinds": ",".join(kinds)})
        partial.replace(path)
    except OSError:
        logger.warning("could not save the quantized weights to %s", path, exc_info=True)


def _load(every: Sequence[Projection], mode: str, path: Path) -> None:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        kinds = (handle.metadata() or {}).get("kinds", "").split(",")
        if len(kinds) != len(every):
            raise ValueError(f"{len(kinds)} projections saved, {len(every)} in the model")
        loaded: list[QuantWeight] = []
        for index, (projection, kind) in enumerate(zip(every, kinds, strict=True)):
            device = projection.dense.device
            keys = [key for key in handle.keys() if key.startswith(f"{index}.")]
            tensors = {key.split(".", 1)[1]: handle.get_tensor(key) for key in keys}
            weight: QuantWeight = (
                Int4Weight.load(tensors, device) if kind == "int4" else
                Int8Weight.load(tensors, device)
            )
            if weight.out_features != projection.shape[0]:
                raise ValueError(f"projection {index} has {weight.out_features} outputs saved")
            loaded.append(weight)
    for projection, weight in zip(every, loaded, strict=True):
        projection.quantized[mode] = weight


def _nbytes(projection: Projection, mode: str) -> int:
    weight = projection.quantized.get(mode)
    return weight.nbytes if weight is not None else 0


def _summary(layers: Sequence[Layer], head: Projection, mode: str) -> str:
    total = sum(_nbytes(p, mode) for p in projections(layers, head))
    return f"{mode}, {total / 2**20:.0f} MiB"


def _rows(projection: Projection, name: str) -> torch.Tensor:
    """The dense rows of one of a projection's names."""
    start, end = projection.columns[projection.names.index(name)]
    return projection.dense[start:end]
