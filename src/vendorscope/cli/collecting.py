"""What every collecting command (`pcap`, `probe`, `import`) does once it has its observations.

Write them as JSON lines if asked, resolve and store them as one snapshot,
print the devices: one function, so the three commands say the same thing
the same way when the inventory cannot be written.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import IO

import typer

from vendorscope.cli.common import (
    DEVICE_COLUMNS,
    OutputFormat,
    device_row,
    dumps,
    fail,
    observation_record,
    write_observations,
    write_rows,
)
from vendorscope.model import Asset, Observation
from vendorscope.pipeline import BatchProgress, IngestResult, ingest, stored_assets


def store_and_show(
    observations: Iterable[Observation],
    *,
    source: str,
    db: str | None,
    started_at: datetime,
    stats: Mapping[str, object],
    fmt: OutputFormat,
    output: Path | IO[str] | None,
    title: Callable[[int], str],
    observations_path: Path | None = None,
    rescue: Callable[[], Path] | None = None,  # where the observations are safe if the store fails
    shown: Callable[[list[Asset]], list[Asset]] = list,
    passthrough: tuple[type[BaseException], ...] = (),  # errors of the reader, raised as they are
    progress: BatchProgress | None = None,
) -> IngestResult:
    """Observations → (JSON lines) → snapshot in ``db`` (None: store nothing) → device table.

    ``rescue`` writes the observations somewhere safe when the store fails and
    no ``observations_path`` holds them already (a scan is not lost). ``shown``
    picks and orders the devices printed; ``title`` gets their number.

    ``observations`` may be a stream: it is read once, batch by batch, and
    ``stats`` is stored as it stands at its end. When the devices did not stay
    in memory (a long import), they are read back from the snapshot to be shown.
    """
    if observations_path is not None:
        if isinstance(observations, list):
            write_observations(observations_path, observations)
        else:
            observations = _tee(observations, observations_path)
    try:
        result = ingest(observations, source=source, db=db, started_at=started_at, stats=stats, progress=progress)
    except (typer.Exit, *passthrough):  # type: ignore[misc]
        raise
    except Exception as exc:  # noqa: BLE001 - any storage failure reaches the user as one line
        from vendorscope.store.inventory import database_url, display_url

        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        if observations_path is not None and not isinstance(observations, list):
            _drain(observations)  # the rest of the stream still goes to the observations file
        kept = observations_path or (rescue() if rescue is not None else None)
        saved = f"; the observations are in {kept}" if kept is not None else ""
        fail(f"cannot store the results in {display_url(database_url(db or ''))}: {detail}{saved}")
    assets: Iterable[Asset]
    if result.complete:
        assets = shown(result.assets)
    elif shown is list:
        assets = stored_assets(result)  # streamed from the snapshot, in the order written
    else:  # a caller that picks or orders the devices gets them all (its observations were in memory anyway)
        assets = shown(list(stored_assets(result)))
    out: IO[str]
    if isinstance(output, Path):
        try:
            out = output.open("w", encoding="utf-8", newline="")
        except OSError as exc:
            fail(f"{output}: cannot write: {exc.strerror or exc}")
    else:
        out = output or sys.stdout
    try:
        # A table of a long import shows its first rows: the rest are counted by the store, not read back.
        write_rows((device_row(a) for a in assets), DEVICE_COLUMNS, fmt, out=out,
                   title=title(len(assets) if isinstance(assets, list) else result.asset_count),
                   total=None if isinstance(assets, list) else result.asset_count)
    finally:
        if isinstance(output, Path):
            out.close()
    return result


def _tee(observations: Iterable[Observation], path: Path) -> Iterator[Observation]:
    """The observations, each written as a JSON line to ``path`` as it passes."""
    try:
        out = path.open("w", encoding="utf-8")
    except OSError as exc:
        fail(f"{path}: cannot write observations: {exc.strerror or exc}")
    with out:
        try:
            for obs in observations:
                try:
                    out.write(dumps(observation_record(obs)) + "\n")
                except OSError as exc:
                    fail(f"{path}: cannot write observations: {exc.strerror or exc}")
                yield obs
        except GeneratorExit:
            raise
        except Exception:
            # The reader gave up (--strict, an unreadable server): nothing was stored, and no partial file stays.
            out.close()
            path.unlink(missing_ok=True)
            raise


def _drain(observations: Iterable[Observation]) -> None:
    try:
        for _ in observations:
            pass
    except Exception:  # noqa: BLE001, S110 - the store's error is the one reported
        pass
