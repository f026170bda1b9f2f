"""Assessment: stored snapshots → assets with their effective role, and their findings.

The one place where the inventory meets the judge. The headline, the
burn-down history, the diff, `findings` and every report format call these
functions with one :class:`Criteria` (packs, mode, audiences), so none of them
can judge with other packs or another mode than the rest.

Who owns what: :mod:`vendorscope.resolve` decides what one asset is (merging
parts, applying a person's annotation); the store only stores and reads;
here the judge gives each asset its effective role and its findings.

History and diff are incremental: what they judged from each snapshot is kept
in the store under :meth:`Criteria.cache_key` (a hash of the packs' contents,
the mode, the audiences, the as-of rule and vendorscope's own code and data),
joined there with a hash of the annotations and the snapshots merged. Any
change to one of those is a new key, so a kept result is never stale, only
unused.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from vendorscope import __version__
from vendorscope.identify.cache import cache_key
from vendorscope.judge.evaluate import effective_role, evaluate
from vendorscope.judge.packs import JudgeDefaults, PolicyPack, default_judge_defaults
from vendorscope.model import Asset, Finding
from vendorscope.store.queries import stable_text

if TYPE_CHECKING:
    from vendorscope.store.inventory import Inventory, Judge
    from vendorscope.store.queries import Diff, HistoryEntry

__all__ = ["Assessment", "Criteria", "assess", "assess_inventory", "diff", "history", "with_effective_roles"]


@dataclass(frozen=True, slots=True)
class Criteria:
    """What to judge against: the same for the headline, the history, the diff and every format."""

    packs: tuple[PolicyPack, ...]
    mode: str = "statutory"
    audiences: frozenset[str] | None = None  # None: undeclared (audience-bound requirements → review)
    include_clear: bool = False

    @classmethod
    def of(
        cls, packs: Iterable[PolicyPack], mode: str = "statutory", audiences: Iterable[str] | None = None,
        include_clear: bool = False,
    ) -> Criteria:
        """Criteria from CLI-shaped arguments: an empty audience list means none declared."""
        declared = frozenset(audiences) if audiences else None
        return cls(tuple(packs), mode, declared, include_clear)

    def judge(self) -> Judge:
        """A function the store calls to judge the assets of one snapshot on that snapshot's date."""

        def judge(assets: Sequence[Asset], day: date) -> list[Finding]:
            return self.findings(assets, day)

        return judge

    def cache_key(self) -> str:
        """A hash of everything a judged result depends on besides the assets and the date.

        History and diff judge each snapshot as of that snapshot's date
        (``AS_OF_RULE``); the registry, role rules and judge defaults are
        vendorscope's bundled data, covered by :func:`software_key`.
        """
        return cache_key([
            RESULT_FORMAT, AS_OF_RULE, software_key(), stable_text(self.packs), self.mode,
            stable_text(sorted(self.audiences) if self.audiences is not None else None),
            stable_text(self.include_clear),
        ])

    def findings(self, assets: Iterable[Asset], as_of: date) -> list[Finding]:
        return evaluate(
            assets, self.packs, as_of, mode=self.mode, include_clear=self.include_clear, audiences=self.audiences
        )


# Change when the meaning of a kept result changes without a change of code (never, so far).
RESULT_FORMAT = "judged results 1"
AS_OF_RULE = "each snapshot as of its start date (UTC)"
PACKAGE_DIR = Path(__file__).resolve().parent


@cache
def software_key() -> str:
    """A hash of vendorscope's version and every file of the package: code, registry, rules, defaults.

    Broader than the judge needs, so that no change of code or data can leave
    a kept result that the new code would not give (a few ms, once per process).
    """
    files = sorted(p for p in PACKAGE_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return cache_key([__version__, *(part for p in files for part in (p.relative_to(PACKAGE_DIR).as_posix(),
                                                                        _contents(p)))])


def _contents(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:  # an unreadable file still counts, by its error
        return f"unreadable: {exc.strerror}".encode()


@dataclass(frozen=True, slots=True)
class Assessment:
    """Assets (with the role the judge gave them) and their findings, as of one date."""

    as_of: date
    assets: tuple[Asset, ...]
    findings: tuple[Finding, ...]


def with_effective_roles(assets: Iterable[Asset], defaults: JudgeDefaults | None = None) -> list[Asset]:
    """Roles as the judge sees them: an unknown role inferred from an unambiguous device type."""
    defaults = defaults if defaults is not None else default_judge_defaults()
    out = []
    for a in assets:
        role = effective_role(a, defaults)[0]
        out.append(a if role is a.role else dataclasses.replace(a, role=role))
    return out


def assess(assets: Iterable[Asset], criteria: Criteria, as_of: date) -> Assessment:
    """Judge merged, annotated assets: their findings, and the assets with their effective role.

    The judge sees the assets as stored (it infers the role itself and says so
    in the reason); the assets returned carry the inferred role for display.
    """
    listed = sorted(assets, key=lambda a: a.id)
    findings = criteria.findings(listed, as_of)
    return Assessment(as_of, tuple(with_effective_roles(listed)), tuple(findings))


def assess_inventory(inventory: Inventory, criteria: Criteria, as_of: date) -> Assessment:
    """The inventory as it stands (latest snapshot of each source, merged), assessed as of ``as_of``.

    A condensed read (each piece of evidence once, with where it was first
    seen: file and frame, port, row) is all judging and the evidence chains need.
    """
    return assess(inventory.assets(all_observations=False), criteria, as_of)


def history(
    inventory: Inventory, criteria: Criteria, policy: str | None = None, *, cached: bool = True
) -> list[HistoryEntry]:
    """The inventory after each snapshot, judged with ``criteria`` as of each snapshot's date.

    Entries judged before with the same criteria and annotations are read back,
    not judged again (``cached=False`` judges every snapshot, as a check).
    """
    return inventory.history(policy, judge=criteria.judge(), cache_key=criteria.cache_key() if cached else None)


def diff(
    inventory: Inventory, a: int, b: int, criteria: Criteria, policy: str | None = None, *, cached: bool = True
) -> Diff:
    """What changed from snapshot ``a`` to ``b``, with covered assets judged with ``criteria``.

    Each snapshot's coverage judged before with the same criteria and annotations is read back.
    """
    return inventory.diff(a, b, policy, judge=criteria.judge(), cache_key=criteria.cache_key() if cached else None)
