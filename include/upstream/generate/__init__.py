"""Deterministic, messy sample landing data for every source family.

Sizes scale with ``sf``: SF 1 ≈ 100 k customers, 5 M web events and 500 k order lines per
week of 7 days (so a 7-day sample at SF 1 has exactly those totals). Random numbers come from
NumPy, one stream per ``(seed, source, day)``, so adding
days never changes days already generated; DuckDB formats and writes the files (web events
are gzipped in parallel, one gzip member per block).
Layout: ``<landing>/<source>/<YYYY-MM-DD>/<entity>_<YYYYMMDD>[...].<ext>``.
Messiness knobs (:class:`Messiness`) are each on by default at a small rate.
"""

from upstream.generate.core import GenerationSummary, generate
from upstream.generate.mess import Messiness

__all__ = ["GenerationSummary", "Messiness", "generate"]
