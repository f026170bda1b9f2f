"""The pipeline behind every collecting command: identify → resolve → store.

Collectors (pcap, probe, imports) yield observations; this module turns them
into assets and, when an inventory is named, writes them as one snapshot.

Into an inventory, observations stream: they are identified, resolved and
written ``batch_size`` at a time, each batch in its own transaction, and a
device seen in two batches is merged through the store (see
``store.inventory.SnapshotWriter``). Memory stays flat however long the input;
the snapshot becomes visible only once its last batch is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice

from vendorscope.identify.engine import Engine, default_engine
from vendorscope.model import Asset, Observation
from vendorscope.resolve import resolve
from vendorscope.store import DEFAULT_DB

__all__ = ["BATCH_SIZE", "DEFAULT_DB", "IngestResult", "ingest", "stored_assets", "to_assets"]

# Observations identified, resolved and written per transaction.
BATCH_SIZE = 20_000
# Called after each stored batch with (observations so far, assets so far).
BatchProgress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What an ingest made. ``assets`` holds every asset only when ``complete`` (one batch, or no store);
    otherwise read them back with :func:`stored_assets`."""

    assets: list[Asset]
    observations: int
    snapshot_id: int | None
    asset_count: int = -1
    identified: int = -1
    complete: bool = True
    db: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.asset_count < 0:
            object.__setattr__(self, "asset_count", len(self.assets))
        if self.identified < 0:
            object.__setattr__(self, "identified", sum(1 for a in self.assets if a.verdict.vendor))


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
    stats: Mapping[str, object] | None = None,
    batch_size: int = BATCH_SIZE,
    progress: BatchProgress | None = None,
) -> IngestResult:
    """Resolve observations into assets and, if ``db`` is set, store them as a snapshot.

    ``stats`` is stored as it stands when the last batch is written (a caller
    may fill it in while the observations are read). An error while reading
    or writing removes the incomplete snapshot (best effort) and is raised.
    """
    started_at = started_at or datetime.now(UTC)
    if not db:
        obs = list(observations)
        return IngestResult(to_assets(obs, engine), len(obs), None)
    from vendorscope.store.inventory import open_inventory

    engine = engine or default_engine()
    count = 0
    kept: list[Asset] = []
    batches = 0
    stream = _batches(observations, batch_size)
    # The first batch is read before the inventory is opened: an input that fails
    # early (or a small one whose store fails) leaves no inventory behind.
    batch = next(stream, None)
    with open_inventory(db) as inventory:
        writer = inventory.snapshot_writer(source, started_at, stats if stats is not None else {})
        try:
            while batch is not None:
                assets = to_assets(batch, engine)
                writer.add(batch, assets)
                count += len(batch)
                batches += 1
                kept = assets if batches == 1 else []
                batch = assets = None  # type: ignore[assignment]
                if progress is not None:
                    progress(count, writer.counts.assets)
                batch = next(stream, None)
            snapshot_id = writer.finish()
        except BaseException:
            writer.abandon()
            raise
        counts = writer.counts
    if batches <= 1:
        return IngestResult(kept, count, snapshot_id, db=db)
    return IngestResult([], count, snapshot_id, asset_count=counts.assets, identified=counts.attributed,
                        complete=False, db=db)


def stored_assets(result: IngestResult) -> Iterator[Asset]:
    """The assets of an ingest: those kept in memory, or read back from its snapshot a chunk at a time."""
    if result.complete or result.db is None or result.snapshot_id is None:
        yield from result.assets
        return
    from vendorscope.store.inventory import open_inventory

    with open_inventory(result.db, create=False) as inventory:
        yield from inventory.iter_snapshot_assets(result.snapshot_id)


def _batches(observations: Iterable[Observation], size: int) -> Iterator[list[Observation]]:
    it = iter(observations)
    while batch := list(islice(it, size)):
        yield batch
