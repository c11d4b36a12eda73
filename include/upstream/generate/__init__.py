"""Deterministic sample landing data: CRM customers, web events, orders and order lines.

Vectorised with NumPy, written by DuckDB. Every (source, day) draws from its own random stream
seeded by ``(seed, stream, day)``, so adding days never changes the days already generated.
Layout: ``<landing>/<source>/<YYYY-MM-DD>/<entity>.<ext>``.
"""

from upstream.generate.core import GenerationSummary, generate

__all__ = ["GenerationSummary", "generate"]
