"""Small helpers shared by ingest, gate, publish and erasure: file checksums, SQL quoting of
identifiers and paths, safe excerpts of untrusted text, percentages."""

from __future__ import annotations

import hashlib
from pathlib import Path

from upstream.warehouse import sql_literal


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def exact_path(path: Path) -> str:
    """``path`` as an SQL literal that DuckDB's readers take literally, never as a glob: a file
    named ``orders_*.csv`` is that one file (each ``*``, ``?`` and ``[`` becomes a one-character
    class)."""
    return sql_literal("".join(f"[{ch}]" if ch in "*?[" else ch for ch in str(path)))


def safe_excerpt(text: str, limit: int = 200) -> str:
    """A short, escaped sample of untrusted text for a message: never a whole line of a file
    (DuckDB's reader errors quote the offending line, which can hold anything)."""
    kept = "\n".join(ln for ln in str(text).splitlines() if not ln.lstrip().startswith(
        ("Original Line", "Line:", "  ")) and ln.strip())
    sample = kept[:limit].encode("unicode_escape").decode("ascii")
    return sample + ("…" if len(kept) > limit else "")


def percent(share: float) -> str:
    """A share as a percentage with the digits it needs: 0.05 -> '5%', 0.0001 -> '0.01%'."""
    return f"{share * 100:.3g}%"


def quote_ident(name: str) -> str:
    """A name as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'
