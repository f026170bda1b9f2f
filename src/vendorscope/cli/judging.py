"""What every judging command (`findings`, `report`, `history`, `diff`) shares: packs, date, mode, audience."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from vendorscope.cli.common import fail
from vendorscope.judge.packs import PackError, PolicyPack, load_packs

if TYPE_CHECKING:  # the store behind assess is imported only by the commands that judge an inventory
    from vendorscope.assess import Criteria


class JudgeMode(StrEnum):
    statutory = "statutory"
    strict = "strict"


# Options the judging commands take, declared once so they read the same everywhere.
POLICY_OPTION = typer.Option(None, "--policy", "-p", help="Only this pack (see `policies`). Repeatable.")
JURISDICTION_OPTION = typer.Option(
    None, "--jurisdiction", "-j", help="Only packs for this jurisdiction (US, GB/UK, DE, EU, ...)."
)
AS_OF_OPTION = typer.Option(None, "--as-of", help="Judge as of this date (YYYY-MM-DD); default today.")
MODE_OPTION = typer.Option(
    JudgeMode.statutory, "--mode",
    help="statutory: purpose-qualified coverage (Hikvision, Dahua, Hytera) is review unless a site "
    "tag shows the purpose; strict: treat it as covered.",
)
AUDIENCE_OPTION = typer.Option(
    None, "--audience",
    help="Declare who you are for requirements that bind only some (e.g. usf-recipient). Repeatable.",
)
PACKS_OPTION = typer.Option(None, "--packs", help="Extra pack files or directories. Repeatable.")


def parse_day(text: str | None) -> date:
    if text is None:
        return date.today()
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        fail(f"--as-of: expected a date YYYY-MM-DD, got {text!r}")


def packs_or_fail(extra: Iterable[Path] | None) -> list[PolicyPack]:
    try:
        return load_packs(extra or ())
    except PackError as exc:
        fail(str(exc))


def select_packs(packs: Sequence[PolicyPack], ids: Sequence[str], jurisdictions: Sequence[str]) -> list[PolicyPack]:
    known = {p.id for p in packs}
    for pack_id in ids:
        if pack_id not in known:
            fail(f"no policy pack {pack_id!r}; known: {', '.join(sorted(known))}")
    chosen = [
        p
        for p in packs
        if (not ids or p.id in ids)
        and (not jurisdictions or any(p.matches_jurisdiction(j) for j in jurisdictions))
    ]
    if not chosen:
        codes = sorted({p.jurisdiction for p in packs})
        fail(f"no policy pack matches (jurisdictions with packs: {', '.join(codes)})")
    return chosen


def check_audiences(chosen: Sequence[PolicyPack], audiences: Sequence[str]) -> None:
    declared = {a for p in chosen for a in (p.audiences or {})}
    for a in audiences:
        if a not in declared:
            fail(f"--audience {a!r}: not used by the chosen packs (known: {', '.join(sorted(declared)) or 'none'})")


def criteria_or_fail(
    extra: Iterable[Path] | None,
    policies: Sequence[str] | None,
    jurisdictions: Sequence[str] | None,
    mode: JudgeMode,
    audiences: Sequence[str] | None,
    include_clear: bool = False,
) -> Criteria:
    """The judging criteria every judging command builds the same way: packs chosen, audiences checked."""
    from vendorscope.assess import Criteria

    chosen = select_packs(packs_or_fail(extra), policies or (), jurisdictions or ())
    check_audiences(chosen, audiences or ())
    return Criteria.of(chosen, mode.value, audiences, include_clear)
