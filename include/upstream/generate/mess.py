"""Messiness knobs: what real sources send besides good rows. Rates are per row unless noted."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class Messiness:
    duplicate_events: float = 0.01   # a web event delivered twice in the same file
    duplicate_files: float = 0.05    # per source and day: yesterday's file re-sent under a new name
    late_events: float = 0.02        # web events of day D delivered in the D+1..D+3 file
    malformed_rows: float = 0.001    # broken CSV rows / truncated JSON lines
    wrong_encoding: float = 0.0005   # Latin-1 bytes inside a UTF-8 file
    null_required: float = 0.001     # a required field left empty
    out_of_range: float = 0.001      # negative quantities, future dates, impossible birth years
    mixed_currency: float = 0.05     # orders in CHF, GBP, SEK, PLN instead of EUR
    crm_deletions: float = 0.0005    # per day: share of customers erased by a CRM delete (>= 1)
    schema_drift_day: int = 3        # from this day on: orders gain a column, channel is renamed

    @classmethod
    def clean(cls) -> Messiness:
        return cls(**{f.name: 0.0 for f in fields(cls) if f.name != "schema_drift_day"},
                   schema_drift_day=10**6)

    def with_(self, **changes: float) -> Messiness:
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise ValueError(f"unknown messiness knob(s) {sorted(unknown)}; known: "
                             f"{[f.name for f in fields(self)]}")
        return replace(self, **changes)

    @classmethod
    def parse(cls, items: list[str], clean: bool = False) -> Messiness:
        """From CLI ``KNOB=VALUE`` items on top of the defaults (or of :meth:`clean`)."""
        base = cls.clean() if clean else cls()
        changes: dict[str, float] = {}
        for item in items:
            name, _, value = item.partition("=")
            if not value:
                raise ValueError(f"messiness knob {item!r} must look like NAME=VALUE")
            try:
                changes[name] = int(value) if name == "schema_drift_day" else float(value)
            except ValueError:
                kind = "a whole day number" if name == "schema_drift_day" else "a rate such as 0.1"
                raise ValueError(f"messiness knob {name}={value!r}: expected {kind}") from None
        return base.with_(**changes)
