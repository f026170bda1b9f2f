"""Judged results kept per snapshot: history and diff read them back, and give what judging again gives.

Every test runs on SQLite and on a real PostgreSQL server (the fixtures of
test_store.py), with the real judge and real packs.
"""

# ruff: noqa: F811 - tests take the imported `inv` fixture as a parameter
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from test_packs import minimal_pack, write_pack
from test_store import (  # noqa: F401 - inv: a fixture (over conftest's db_url, SQLite and a real PostgreSQL)
    T0,
    huawei_router,
    inv,
    obs,
    relabelled_camera,
    scalar,
    write,
)

from vendorscope.assess import Criteria, diff, history
from vendorscope.judge.packs import load_packs
from vendorscope.model import Asset, Finding
from vendorscope.store.inventory import RESULTS_PER_SNAPSHOT, Inventory, Judge

# The router's requirement reaches only core elements: an annotated role changes what it covers.
CORE_ONLY = minimal_pack(id="test-core", requirements=[
    {"id": "remove-core", "text": "remove it from the core", "source": "src", "roles": ["core"],
     "deadline": {"date": date(2026, 12, 31), "source": "src"}},
])


@pytest.fixture
def criteria(tmp_path: Path) -> Criteria:
    return Criteria.of(load_packs([write_pack(tmp_path, CORE_ONLY, "test-core.yaml")]))


def build(inv: Inventory) -> list[int]:
    """Four snapshots of two sources: a router and a camera come, a second router comes and goes."""
    second = huawei_router(mac="00:e0:fc:00:00:02", ip="10.0.0.3")
    s1, _ = write(inv, huawei_router(), at=T0)
    s2, _ = write(inv, relabelled_camera(source="inventory"), source="inventory", at=T0 + timedelta(days=40))
    s3, _ = write(inv, huawei_router() + second, at=T0 + timedelta(days=400))
    s4, _ = write(inv, second, at=T0 + timedelta(days=800))
    return [s1, s2, s3, s4]


class CountingJudge:
    """The real judge, counting the snapshots it is asked to judge."""

    def __init__(self, judge: Judge) -> None:
        self.judge = judge
        self.calls = 0

    def __call__(self, assets: Sequence[Asset], day: date) -> Iterable[Finding]:
        self.calls += 1
        return self.judge(assets, day)


def judged_history(inv: Inventory, criteria: Criteria, policy: str | None = None) -> tuple[list[Any], int]:
    judge = CountingJudge(criteria.judge())
    return inv.history(policy, judge=judge, cache_key=criteria.cache_key()), judge.calls


def judged_diff(inv: Inventory, a: int, b: int, criteria: Criteria) -> tuple[Any, int]:
    judge = CountingJudge(criteria.judge())
    return inv.diff(a, b, judge=judge, cache_key=criteria.cache_key()), judge.calls


def test_history_and_diff_read_back_what_they_judged_and_it_is_what_judging_gives(
    inv: Inventory, criteria: Criteria
) -> None:
    ids = build(inv)
    inv.annotate("mac:00:e0:fc:00:00:01", role="core", site="hq")
    plain = history(inv, criteria, cached=False)
    assert scalar(inv, "SELECT count(*) FROM result_cache") == 0

    first, judged_first = judged_history(inv, criteria)
    again, judged_again = judged_history(inv, criteria)
    assert judged_first == len(ids) and judged_again == 0
    assert first == again == plain
    assert [e.assets for e in plain] == [1, 2, 3, 2]
    assert any(c.policy == "test-core" and c.covered == 1 for c in plain[0].coverage or [])
    assert history(inv, criteria, policy="test-core") == history(inv, criteria, policy="test-core", cached=False)

    plain_diff = diff(inv, ids[0], ids[3], criteria, cached=False)
    first_diff, judged = judged_diff(inv, ids[0], ids[3], criteria)
    again_diff, judged_again = judged_diff(inv, ids[0], ids[3], criteria)
    assert (judged, judged_again) == (2, 0)
    assert first_diff == again_diff == plain_diff
    assert plain_diff.progress and plain_diff.appeared and plain_diff.disappeared

    # a new snapshot is the only one judged; the others are read back
    s5, _ = write(inv, huawei_router(), at=T0 + timedelta(days=900))
    extended, judged = judged_history(inv, criteria)
    assert judged == 1
    assert extended[:-1] == plain and extended == history(inv, criteria, cached=False)
    assert extended[-1].snapshot.id == s5


def test_annotations_make_history_and_diff_judge_again(inv: Inventory, criteria: Criteria) -> None:
    ids = build(inv)
    before, _ = judged_history(inv, criteria)
    diff_before, _ = judged_diff(inv, ids[0], ids[2], criteria)

    inv.annotate("mac:00:e0:fc:00:00:01", role="core")
    after, judged = judged_history(inv, criteria)
    assert judged == len(ids)
    assert after == history(inv, criteria, cached=False) != before
    diff_after, judged = judged_diff(inv, ids[0], ids[2], criteria)
    assert judged == 2 and diff_after == diff(inv, ids[0], ids[2], criteria, cached=False) != diff_before

    inv.annotate("mac:00:e0:fc:00:00:01", add_tags=["lab"])  # any change, even one the packs ignore
    assert judged_history(inv, criteria)[1] == len(ids)
    assert judged_history(inv, criteria)[1] == 0


def test_other_packs_mode_or_audiences_are_judged_anew(inv: Inventory, criteria: Criteria, tmp_path: Path) -> None:
    build(inv)
    assert judged_history(inv, criteria)[1] == 4
    later = minimal_pack(id="test-core", requirements=[{**CORE_ONLY["requirements"][0], "deadline": {
        "date": date(2027, 12, 31), "source": "src"}}])
    (tmp_path / "later").mkdir()
    changed_pack = Criteria.of(load_packs([write_pack(tmp_path / "later", later, "test-core.yaml")]))
    variants = [
        changed_pack,  # same pack id, other contents
        Criteria.of(criteria.packs[:3]),
        Criteria.of(criteria.packs, mode="strict"),
        Criteria.of(criteria.packs, audiences=["usf-recipient"]),
    ]
    for variant in variants:
        assert variant.cache_key() != criteria.cache_key()
        entries, judged = judged_history(inv, variant)
        assert judged == 4 and entries == history(inv, variant, cached=False)
    assert Criteria.of(list(criteria.packs)).cache_key() == criteria.cache_key()
    assert judged_history(inv, criteria)[1] == 0


def test_the_criteria_key_is_the_same_in_every_process(tmp_path: Path) -> None:
    path = write_pack(tmp_path, CORE_ONLY, "test-core.yaml")
    code = ("import sys; from vendorscope.assess import Criteria; from vendorscope.judge.packs import load_packs; "
            "from pathlib import Path; print(Criteria.of(load_packs([Path(sys.argv[1])]), audiences=['b', 'a'])"
            ".cache_key())")
    keys = {
        subprocess.run([sys.executable, "-c", code, str(path)], env={**os.environ, "PYTHONHASHSEED": seed},
                       capture_output=True, text=True, check=True).stdout.strip()
        for seed in ("1", "2", "3")
    }
    assert len(keys) == 1 and len(next(iter(keys))) == 32


REFUSE = {
    "sqlite": ["CREATE TRIGGER refuse BEFORE INSERT ON result_cache BEGIN SELECT RAISE(ABORT, 'disk full'); END"],
    "postgresql": [
        "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER refuse BEFORE INSERT ON result_cache FOR EACH ROW EXECUTE FUNCTION refuse()",
    ],
}


def execute(inv: Inventory, *statements: str) -> None:
    with inv.engine.connect() as conn, conn.begin():
        for sql in statements:
            conn.exec_driver_sql(sql)


def test_a_refused_cache_write_never_breaks_history_or_diff(inv: Inventory, criteria: Criteria) -> None:
    ids = build(inv)
    plain = history(inv, criteria, cached=False)
    execute(inv, *REFUSE[inv.dialect])
    assert history(inv, criteria) == plain
    assert diff(inv, ids[0], ids[1], criteria) == diff(inv, ids[0], ids[1], criteria, cached=False)
    assert scalar(inv, "SELECT count(*) FROM result_cache") == 0
    assert inv.keep_results({(ids[0], "k"): "[]"}) is False

    execute(inv, "DROP TRIGGER refuse" + (" ON result_cache" if inv.dialect == "postgresql" else ""))
    assert judged_history(inv, criteria)[1] == 4
    assert judged_history(inv, criteria) == (plain, 0)


def test_a_locked_sqlite_inventory_only_skips_the_cache_write(tmp_path: Path, criteria: Criteria) -> None:
    from vendorscope.store.inventory import open_inventory

    with open_inventory(str(tmp_path / "inv.db")) as inventory:
        build(inventory)
        plain = history(inventory, criteria, cached=False)
        other = sa.create_engine(f"sqlite:///{tmp_path / 'inv.db'}")
        with other.connect() as holder:
            holder.exec_driver_sql("BEGIN IMMEDIATE")  # another writer holds the lock throughout
            assert judged_history(inventory, criteria) == (plain, 4)
            holder.exec_driver_sql("ROLLBACK")
        other.dispose()
        assert scalar(inventory, "SELECT count(*) FROM result_cache") == 0
        assert judged_history(inventory, criteria) == (plain, 4)
        assert judged_history(inventory, criteria) == (plain, 0)


@pytest.mark.parametrize("damage", ["not json", '{"assets": "many"}', "[1, 2]", '{"assets": 1, "attributed": 1, '
                                    '"conflicts": 0, "by_group": {}, "coverage": [["p", "r", "someday", 1, 0]]}'])
def test_damaged_kept_results_are_judged_again_and_repaired(inv: Inventory, criteria: Criteria, damage: str) -> None:
    build(inv)
    plain, _ = judged_history(inv, criteria)
    with inv.engine.connect() as conn, conn.begin():
        conn.execute(sa.text("UPDATE result_cache SET value = :v"), {"v": damage})
    assert judged_history(inv, criteria) == (plain, 4)
    assert judged_history(inv, criteria) == (plain, 0)


def test_each_snapshot_keeps_the_results_of_its_newest_keys(inv: Inventory) -> None:
    [s1] = build(inv)[:1]
    for n in range(RESULTS_PER_SNAPSHOT + 3):
        assert inv.keep_results({(s1, f"key-{n:02d}"): "[]"})
    kept = scalar(inv, f"SELECT count(*) FROM result_cache WHERE snapshot_id = {s1}")
    assert kept == RESULTS_PER_SNAPSHOT
    assert scalar(inv, f"SELECT count(*) FROM result_cache WHERE key = 'key-{RESULTS_PER_SNAPSHOT + 2:02d}'") == 1


def test_an_unjudged_history_is_kept_apart_from_a_judged_one(inv: Inventory, criteria: Criteria) -> None:
    build(inv)
    write(inv, [obs("mac", "00:e0:fc:00:00:09", mac="00:e0:fc:00:00:09")], at=T0 + timedelta(days=1000))
    unjudged = inv.history(cache_key=criteria.cache_key())
    assert all(e.coverage is None for e in unjudged)
    assert inv.history(cache_key=criteria.cache_key()) == unjudged == inv.history()
    judged, calls = judged_history(inv, criteria)
    assert calls == 5 and all(e.coverage is not None for e in judged)




def test_an_inventory_from_before_the_cache_is_migrated_and_keeps_its_snapshots(
    db_url: str, criteria: Criteria
) -> None:
    from alembic import command

    from vendorscope.store.inventory import _alembic_config, open_inventory

    with open_inventory(db_url) as inventory:
        ids = build(inventory)
        plain = history(inventory, criteria, cached=False)
        with inventory.engine.connect() as conn, conn.begin():
            command.downgrade(_alembic_config(conn), "0001")
        assert "result_cache" not in sa.inspect(inventory.engine).get_table_names()
    with open_inventory(db_url, create=False) as inventory:
        assert [s.id for s in inventory.snapshots()] == ids
        assert judged_history(inventory, criteria) == (plain, 4)
        assert judged_history(inventory, criteria) == (plain, 0)


KEEP_JUDGING = """
import sys
from pathlib import Path
from vendorscope.assess import Criteria, history
from vendorscope.judge.packs import load_packs
from vendorscope.store.inventory import open_inventory

packs = load_packs([Path(sys.argv[2])])
with open_inventory(sys.argv[1], create=False) as inventory:
    print("READY", flush=True)
    for n in range(1_000_000):  # new criteria each time: every call judges and writes
        history(inventory, Criteria.of(packs[: 1 + n % len(packs)], mode=("statutory", "strict")[n % 2]))
"""


@pytest.mark.parametrize("delay", [0.3, 1.2])
def test_a_history_killed_at_any_moment_leaves_results_whole_or_absent(
    db_url: str, tmp_path: Path, delay: float
) -> None:
    import time

    from vendorscope.store.inventory import open_inventory

    pack = write_pack(tmp_path, CORE_ONLY, "test-core.yaml")
    criteria = Criteria.of(load_packs([pack]))
    with open_inventory(db_url) as inventory:
        build(inventory)
    script = tmp_path / "child.py"
    script.write_text(KEEP_JUDGING)
    child = subprocess.Popen([sys.executable, str(script), db_url, str(pack)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().startswith("READY")
        time.sleep(delay)  # not a timing assertion: wherever the kill lands, the check below must hold
        child.kill()
    finally:
        child.kill()
        child.wait()
    with open_inventory(db_url, create=False) as inventory:
        kept = scalar(inventory, "SELECT count(*) FROM result_cache")
        for n in range(4):
            variant = Criteria.of(criteria.packs[: 1 + n % len(criteria.packs)], mode=("statutory", "strict")[n % 2])
            entries, judged = judged_history(inventory, variant)
            assert judged in (0, 4) and entries == history(inventory, variant, cached=False)
        assert kept % 4 == 0


def test_the_history_and_diff_commands_keep_and_read_back_what_they_judged(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from vendorscope.cli import app
    from vendorscope.store.inventory import open_inventory

    db = str(tmp_path / "inv.db")
    with open_inventory(db) as inventory:
        ids = build(inventory)
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, [*args, "--db", db, "--format", "jsonl"])
        assert result.exit_code == 0, result.output
        return result.output

    first_history = run("history", "--mode", "strict")
    with open_inventory(db, create=False) as inventory:
        assert scalar(inventory, "SELECT count(*) FROM result_cache") == len(ids)
    first_diff = run("diff", str(ids[0]), "latest", "--mode", "strict")
    with open_inventory(db, create=False) as inventory:
        assert scalar(inventory, "SELECT count(*) FROM result_cache") == len(ids) + 2
    assert run("history", "--mode", "strict") == first_history and '"covered"' in first_history
    assert run("diff", str(ids[0]), "latest", "--mode", "strict") == first_diff
