"""LoRA adapters served side by side on one base model, chosen per request.

An adapter is what `vetted train lora` (peft) saves: ``adapter_config.json`` and
``adapter_model.safetensors`` with a low-rank pair (A [r, in], B [out, r]) per target
projection. `AdapterBank` loads adapters into numbered slots; the slot forward
(`codegen.runtime.forward`) asks it, after each projection, to add ``scale · x Aᵀ Bᵀ`` to exactly
the batch rows whose sequence asked for that slot. So one decode step can carry sequences
of several workspaces with different adapters and of none; no weights are merged or
unmerged between requests, the base model is loaded once (quantized or not: the low-rank
update stays in the model's precision), and a new adapter (or a retrained one) takes
effect for the next request. An adapter that does not fit the model (another base model,
a damaged file) is refused with the reason; the base model goes on serving.

peft's own multi-adapter inference runs through its model wrapper's forward, which the
engine's slot forward does not use; this is the same computation on the same saved format.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from codegen.runtime.model import ModelError

logger = logging.getLogger(__name__)

MAX_ADAPTERS = 8
"""Adapters kept loaded at once; the least recently used one goes first."""
_PREFIX = "base_model.model."


class AdapterError(ModelError):
    """An adapter that cannot be served on this model; the message says why."""


@dataclass(frozen=True)
class LoraWeights:
    """One adapter's low-rank pairs, by module name, on the model's device and dtype."""

    path: str
    scale: float
    modules: Mapping[str, tuple[torch.Tensor, torch.Tensor]]
    """Module name (``model.layers.0.self_attn.q_proj``) → (A [r, in], B [out, r])."""
    stamp: float
    """Modification time of the weights file when read."""


def read_adapter(path: str, model: torch.nn.Module) -> LoraWeights:
    """Read and check an adapter against the model; raise `AdapterError` saying what is wrong."""
    folder = Path(path).expanduser()
    config_file, weights_file = folder / "adapter_config.json", folder / "adapter_model.safetensors"
    if not config_file.is_file() or not weights_file.is_file():
        raise AdapterError(f"{folder} is not a LoRA adapter (adapter_config.json and "
                           "adapter_model.safetensors are needed)")
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
        from safetensors.torch import load_file

        tensors = load_file(str(weights_file))
    except Exception as exc:  # noqa: BLE001 - a damaged file says so, whatever broke
        raise AdapterError(f"cannot read the adapter {folder}: {exc}") from exc
    if config.get("peft_type") != "LORA" or config.get("use_dora"):
        raise AdapterError(f"{folder}: only plain LoRA adapters are served (not DoRA or "
                           f"{config.get('peft_type')})")
    if config.get("rank_pattern") or config.get("alpha_pattern"):
        raise AdapterError(f"{folder}: per-module ranks or alphas are not supported")
    _check_base(folder, str(config.get("base_model_name_or_path") or ""),
                str(getattr(getattr(model, "config", None), "_name_or_path", "") or ""))
    rank, alpha = int(config["r"]), float(config["lora_alpha"])
    scale = alpha / rank**0.5 if config.get("use_rslora") else alpha / rank
    named = dict(model.named_modules())
    weight = next(model.parameters())
    modules: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    for key, value in tensors.items():
        if not key.endswith(".lora_A.weight"):
            continue
        name = key.removeprefix(_PREFIX).removesuffix(".lora_A.weight")
        target = named.get(name)
        target = getattr(target, "base", target)
        up = tensors.get(key.replace(".lora_A.", ".lora_B."))
        if not isinstance(target, torch.nn.Linear) or up is None:
            raise AdapterError(f"{folder}: the adapter changes {name}, which this model has "
                               "not (trained for another model?)")
        if value.shape != (rank, target.in_features) or up.shape != (target.out_features, rank):
            raise AdapterError(
                f"{folder}: {name} is {target.out_features}×{target.in_features} here but the "
                f"adapter's matrices are {tuple(up.shape)} and {tuple(value.shape)} "
                "(trained for another base model?)"
            )
        if not bool(torch.isfinite(value).all()) or not bool(torch.isfinite(up).all()):
            raise AdapterError(f"{folder}: {name} has NaN or infinite weights (a training run "
                               "that diverged?)")
        # Copies: safetensors maps the file, and an adapter retrained in place must not
        # change the weights of the sequences still running with the old one.
        modules[name] = (value.to(weight.device, weight.dtype, copy=True),
                         up.to(weight.device, weight.dtype, copy=True))
    if not modules:
        raise AdapterError(f"{folder}: the adapter holds no LoRA weights")
    return LoraWeights(str(folder), scale, modules, weights_file.stat().st_mtime)


def _check_base(folder: Path, trained_on: str, served: str) -> None:
    """Refuse an adapter whose config names another base model than the one served.

    Only the models' names are compared, not where they were saved: an adapter trained on
    another machine's copy of the same model fits. Either name unknown: nothing to compare.
    """
    if trained_on and served and _model_name(trained_on) != _model_name(served):
        raise AdapterError(f"{folder}: trained for another base model ({trained_on}, not the "
                           f"served {served})")


_CONVERTED = re.compile(r"(?:-(?:q\d+_[a-z0-9_]+|iq\d+_[a-z0-9_]+|f16|bf16|f32))?"
                        r"(?:\.gguf)?(?:-[0-9a-f]{12})?$")
"""What a GGUF file and our conversion of it add to a model's name: ``-q4_k_m-<key>``."""


def _model_name(name_or_path: str) -> str:
    """``qwen2.5-coder-1.5b`` of a hub id, a folder, a hub cache snapshot or a converted GGUF."""
    parts = [part for part in name_or_path.replace("\\", "/").split("/") if part]
    if "snapshots" in parts:  # the hub cache: .../models--Org--Name/snapshots/<commit>
        parts = parts[: parts.index("snapshots")]
    name = parts[-1].rsplit("--", 1)[-1].lower() if parts else ""
    return _CONVERTED.sub("", name)


class AdapterBank:
    """The adapters loaded into one model, by slot, and which rows use them right now."""

    def __init__(self, model: torch.nn.Module) -> None:
        """No adapter is loaded yet."""
        self.model = model
        self._slots: dict[str, tuple[int, LoraWeights]] = {}
        self._by_slot: dict[int, LoraWeights] = {}
        self._order: list[str] = []
        self._busy: dict[int, int] = {}
        self._lock = threading.Lock()
        self._rows: Mapping[int, Sequence[int]] | None = None
        self.batch = 0
        """Rows of the forward about to run (set with `rows`)."""
        self._row_index: dict[int, torch.Tensor] = {}

    @property
    def rows(self) -> Mapping[int, Sequence[int]] | None:
        """Slot → batch rows for the forward about to run (set by the engine thread)."""
        return self._rows

    @rows.setter
    def rows(self, rows: Mapping[int, Sequence[int]] | None) -> None:
        self._rows = rows
        self._row_index = {}

    def row_index(self, slot: int, device: torch.device) -> torch.Tensor:
        """The rows of `slot` as an index tensor, made once per forward (not per projection)."""
        index = self._row_index.get(slot)
        if index is None or index.device != device:
            assert self._rows is not None
            index = self._row_index[slot] = torch.tensor(self._rows[slot], device=device)
        return index

    @property
    def loaded(self) -> list[str]:
        """Paths of the loaded adapters."""
        with self._lock:
            return list(self._slots)

    def acquire(self, path: str) -> int:
        """The slot of an adapter, loading (or reloading a changed) one; hold until `release`."""
        folder = str(Path(path).expanduser())
        with self._lock:
            held = self._slots.get(folder)
        weights_file = Path(folder) / "adapter_model.safetensors"
        fresh = held is not None and weights_file.is_file() and (
            weights_file.stat().st_mtime == held[1].stamp)
        if held is None or not fresh:
            weights = read_adapter(folder, self.model)
            with self._lock:
                slot = self._free_slot(folder)
                self._slots[folder] = (slot, weights)
                self._by_slot[slot] = weights
            logger.info("adapter %s loaded in slot %d", folder, slot)
        with self._lock:
            slot = self._slots[folder][0]
            self._busy[slot] = self._busy.get(slot, 0) + 1
            if folder in self._order:
                self._order.remove(folder)
            self._order.append(folder)
            return slot

    def release(self, slot: int) -> None:
        """A sequence that used `slot` ended."""
        with self._lock:
            self._busy[slot] = max(self._busy.get(slot, 1) - 1, 0)
            current = {held for held, _ in self._slots.values()}
            if not self._busy[slot] and slot not in current:
                self._by_slot.pop(slot, None)  # an adapter replaced while this row ran

    def pair(self, slot: int, name: str) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The (A, B) of a module in a slot's adapter (None when it leaves the module)."""
        weights = self._by_slot.get(slot)
        return weights.modules.get(name) if weights is not None else None

    def scale(self, slot: int) -> float:
        """The slot adapter's alpha / r."""
        return self._by_slot[slot].scale

    def version(self, slot: int | None) -> str:
        """Names the weights in a slot ("" for none): keys computed with them differ."""
        if slot is None:
            return ""
        weights = self._by_slot[slot]
        return f"{weights.path}@{weights.stamp}"

    def _free_slot(self, folder: str) -> int:
        previous = self._slots.get(folder)
        if previous is not None and not self._busy.get(previous[0]):
            return previous[0]  # a retrained adapter replaces itself when no row uses it
        used = set(self._by_slot)  # an old version still running keeps its slot
        if len(used) >= MAX_ADAPTERS:
            for old in self._order:
                slot = self._slots[old][0]
                if not self._busy.get(slot):
                    del self._slots[old]
                    self._order.remove(old)
                    self._by_slot.pop(slot, None)
                    return slot
            raise AdapterError(f"more than {MAX_ADAPTERS} adapters are in use at once")
        return next(i for i in range(len(used) + 1) if i not in used)

    def add_updates(
        self,
        names: Sequence[str],
        columns: Sequence[tuple[int, int]],
        x: torch.Tensor,
        y: torch.Tensor,
    ) -> torch.Tensor:
        """Add each adapter's update to its rows of a (fused) projection's output y.

        x [M, K] is the projection's input and y [M, N] its output, whose columns
        `columns[i]` belong to the module `names[i]`. M is the batch rows times the tokens
        per row; a slot serves a subset of the rows only when decoding (one token per row).
        """
        groups = self._rows
        assert groups is not None
        for slot, rows in groups.items():
            scale = self._by_slot[slot].scale
            every = len(rows) == self.batch
            assert every or x.shape[0] == self.batch, "a subset of rows with one token each"
            for name, (start, end) in zip(names, columns, strict=True):
                pair = self.pair(slot, name)
                if pair is None:
                    continue
                down, up = pair
                if every:
                    y[:, start:end] += scale * ((x @ down.T) @ up.T)
                    continue
                index = self.row_index(slot, x.device)
                update = scale * ((x.index_select(0, index) @ down.T) @ up.T)
                y[:, start:end] = y[:, start:end].index_add(0, index, update)
        return y
