"""The pipeline behind every collecting command: identify → resolve → store.

Collectors (pcap, probe, imports) yield observations; this module turns them
into assets and, when an inventory is named, writes them as one snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from vendorscope.identify.engine import Engine, default_engine
from vendorscope.model import Asset, Observation
from vendorscope.resolve import resolve
from vendorscope.store import DEFAULT_DB

__all__ = ["DEFAULT_DB", "IngestResult", "ingest", "to_assets"]


@dataclass(frozen=True, slots=True)
class IngestResult:
    assets: list[Asset]
    observations: int
    snapshot_id: int | None


def to_assets(observations: Iterable[Observation], engine: Engine | None = None) -> list[Asset]:
    engine = engine or default_engine()
    observations = list(observations)
    # Identified as one batch (each distinct value matched once), then handed to resolve per observation.
    found = {id(o): a for o, a in zip(observations, engine.identify_observations(observations), strict=True)}
    return resolve(observations, lambda o: found[id(o)])


def ingest(
    observations: Iterable[Observation],
    *,
    source: str,
    db: str | None = DEFAULT_DB,
    engine: Engine | None = None,
    started_at: datetime | None = None,
    stats: dict[str, object] | None = None,
) -> IngestResult:
    """Resolve observations into assets and, if ``db`` is set, store them as a snapshot."""
    started_at = started_at or datetime.now(UTC)
    obs = list(observations)
    assets = to_assets(obs, engine)
    snapshot_id = None
    if db:
        from vendorscope.store.inventory import open_inventory

        with open_inventory(db) as inventory:
            snapshot_id = inventory.write_snapshot(
                source=source, started_at=started_at, observations=obs, assets=assets, stats=stats or {}
            )
    return IngestResult(assets, len(obs), snapshot_id)
