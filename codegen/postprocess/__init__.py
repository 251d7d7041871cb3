"""Post-processing filters, one per module, applied in the order of `DEFAULT_FILTERS`."""

from codegen.postprocess.base import Filter, FilterContext

DEFAULT_FILTERS: tuple[Filter, ...] = ()
"""The ordered list every candidate goes through."""

__all__ = ["DEFAULT_FILTERS", "Filter", "FilterContext"]
