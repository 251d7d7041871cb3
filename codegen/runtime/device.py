"""What the accelerator holds, asked of torch only when asked (the CLI never pays for it)."""

from __future__ import annotations


def gpu_memory_allocated() -> float:
    """Bytes of GPU memory torch has allocated in this process; 0 without a GPU or on error."""
    try:
        import torch

        return float(torch.cuda.memory_allocated()) if torch.cuda.is_available() else 0.0
    except Exception:  # noqa: BLE001 - a metrics gauge must never fail the scrape
        return 0.0
