"""Post-processing filters, one per module, applied in the order of `DEFAULT_FILTERS`."""

from codegen.postprocess.base import Filter, FilterContext
from codegen.postprocess.block_end import cut_at_block_end
from codegen.postprocess.blocked import drop_blocked
from codegen.postprocess.closers import replace_auto_closed
from codegen.postprocess.empty import drop_empty
from codegen.postprocess.fences import strip_markdown
from codegen.postprocess.indentation import normalize_indentation
from codegen.postprocess.single_line import limit_to_line, limit_to_statement
from codegen.postprocess.suffix_overlap import trim_suffix_overlap

DEFAULT_FILTERS: tuple[Filter, ...] = (
    strip_markdown,
    trim_suffix_overlap,
    limit_to_line,
    limit_to_statement,
    cut_at_block_end,
    replace_auto_closed,
    normalize_indentation,
    drop_empty,
    drop_blocked,
)
"""The ordered list every candidate goes through: unwrap, de-duplicate, scope, tidy, and
nothing secret or blocked."""

__all__ = ["DEFAULT_FILTERS", "Filter", "FilterContext"]
