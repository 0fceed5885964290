"""The literature's claims, tested on bench results (work in progress)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["claims_lines", "evaluate_claims"]


def evaluate_claims(
    records: Sequence[Mapping[str, Any]],
    meta: Mapping[str, Any],
    *,
    resamples: int = 2000,
    stats_seed: int = 0,
) -> list[dict[str, Any]]:
    """Verdicts per claim (not implemented yet: empty)."""
    return []


def claims_lines(claims: Sequence[Mapping[str, Any]]) -> list[str]:
    """Markdown of the Claims section."""
    return []
