"""resolve: observations → assets, verdicts, conflicts; merging assets across sources."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from vendorscope.identify.engine import Engine
from vendorscope.model import AssetKeys, Observation, Role
from vendorscope.resolve import group_assets, merge_by_id, resolve

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def obs(kind: str, value: str, at: datetime = T0, **keys: str) -> Observation:
    return Observation(kind=kind, value=value, source="test", seen_at=at, keys=AssetKeys(**keys))


def test_merge_by_mac_serial_and_ip(engine: Engine) -> None:
    observations = [
        obs("mac", "00:e0:fc:11:22:33", mac="00:e0:fc:11:22:33", ip="192.0.2.1"),
        obs("ssh.banner", "SSH-2.0-HUAWEI-1.5", ip="192.0.2.1"),
        obs("inventory.manufacturer", "Huawei Technologies Co., Ltd.", serial="2102351", ip="192.0.2.1"),
        obs("ssh.banner", "SSH-2.0-Cisco-1.25", ip="192.0.2.9"),
    ]
    assets = resolve(observations, engine.identify)
    assert len(assets) == 2
    huawei = next(a for a in assets if "192.0.2.1" in a.keys["ip"])
    assert huawei.id == "mac:00:e0:fc:11:22:33"
    assert huawei.verdict.group == "huawei" and huawei.verdict.confidence > 0.9
    assert huawei.keys["serial"] == {"2102351"}
    assert not huawei.conflicts


def test_ip_only_merges_within_the_time_window(engine: Engine) -> None:
    observations = [
        obs("ssh.banner", "SSH-2.0-HUAWEI-1.5", at=T0, ip="192.0.2.5"),
        obs("ssh.banner", "SSH-2.0-Cisco-1.25", at=T0 + timedelta(days=30), ip="192.0.2.5"),
    ]
    assert len(resolve(observations, engine.identify)) == 2
    observations[1] = obs("snmp.sysobjectid", "1.3.6.1.4.1.2011.2.23.1", at=T0 + timedelta(hours=1), ip="192.0.2.5")
    assert len(resolve(observations, engine.identify)) == 1


def test_an_ip_never_merges_two_different_macs(engine: Engine) -> None:
    observations = [
        obs("mac", "00:e0:fc:00:00:01", mac="00:e0:fc:00:00:01", ip="192.0.2.7"),
        obs("mac", "00:1b:54:00:00:02", mac="00:1b:54:00:00:02", ip="192.0.2.7"),
    ]
    assert len(resolve(observations, engine.identify)) == 2


def test_white_label_camera_is_a_conflict_and_fingerprint_wins(engine: Engine) -> None:
    observations = [
        obs("onvif.manufacturer", "Honeywell", ip="198.51.100.31"),
        obs("http.server", "App-webs/", ip="198.51.100.31"),
    ]
    (asset,) = resolve(observations, engine.identify)
    assert asset.verdict.group == "hikvision"
    assert len(asset.conflicts) == 1
    conflict = asset.conflicts[0]
    assert conflict.label_vendor == "honeywell" and conflict.fingerprint_vendor == "hikvision"
    assert "Honeywell" in conflict.detail and "App-webs" in conflict.detail


def test_labels_alone_decide_when_there_is_no_fingerprint(engine: Engine) -> None:
    (asset,) = resolve([obs("inventory.manufacturer", "ZTE Corporation", serial="ZX1")], engine.identify)
    assert asset.verdict.vendor == "zte" and not asset.conflicts


def test_mac_of_a_module_maker_is_not_a_conflict(engine: Engine) -> None:
    observations = [
        obs("mac", "00:1b:21:00:00:01", mac="00:1b:21:00:00:01"),  # an Intel NIC
        obs("inventory.manufacturer", "Hikvision", mac="00:1b:21:00:00:01"),
    ]
    (asset,) = resolve(observations, engine.identify)
    assert not asset.conflicts


def test_site_role_and_tags_are_taken_from_observations(engine: Engine) -> None:
    observations = [
        obs("ssh.banner", "SSH-2.0-HUAWEI-1.5", serial="S1"),
        obs("asset.site", "Camp Northwind", serial="S1"),
        obs("asset.role", "core", serial="S1"),
        obs("asset.tag", "Military", serial="S1"),
    ]
    (asset,) = resolve(observations, engine.identify)
    assert asset.site == "Camp Northwind" and asset.role is Role.core and asset.site_tags == {"military"}
    assert len(asset.attributions) == 1  # site/role/tag are statements, not evidence of a maker


def test_unidentified_device(engine: Engine) -> None:
    (asset,) = resolve([obs("ssh.banner", "SSH-2.0-OpenSSH_9.2", ip="192.0.2.77")], engine.identify)
    assert asset.verdict.vendor is None and asset.verdict.confidence == 0.0 and asset.id == "ip:192.0.2.77"


def test_assets_of_different_sources_merge_by_shared_keys(engine: Engine) -> None:
    probed = resolve([obs("http.server", "App-webs/", ip="127.77.0.9")], engine.identify)
    listed = resolve(
        [
            obs("inventory.manufacturer", "Honeywell", ip="127.77.0.9", serial="HW-1"),
            obs("asset.site", "Lobby", ip="127.77.0.9", serial="HW-1"),
        ],
        engine.identify,
    )
    other = resolve([obs("ssh.banner", "SSH-2.0-Cisco-1.25", ip="127.77.0.10")], engine.identify)
    assert group_assets(probed + listed + other) == [[0, 1], [2]]
    merged = merge_by_id([probed, listed, other])
    assert len(merged) == 2
    camera = next(a for a in merged if "127.77.0.9" in a.keys["ip"])
    assert camera.id == "serial:HW-1" and camera.site == "Lobby"
    assert camera.verdict.group == "hikvision" and camera.conflicts


def test_inventory_shows_one_device_across_sources_with_different_ids(tmp_path, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    from vendorscope.pipeline import ingest
    from vendorscope.store.inventory import open_inventory

    db = str(tmp_path / "inv.db")
    ingest([obs("http.server", "App-webs/", ip="127.77.0.9")], source="probe", db=db, engine=engine)
    ingest(
        [
            obs("inventory.manufacturer", "Honeywell", ip="127.77.0.9", serial="HW-1"),
            obs("asset.site", "Lobby", ip="127.77.0.9", serial="HW-1"),
        ],
        source="import:table:cmdb",
        db=db,
        engine=engine,
    )
    with open_inventory(db, create=False) as inv:
        (listed,) = inv.assets()
        shown = inv.asset("serial:HW-1")
        seen_in = inv.asset_snapshots("serial:HW-1")
    assert listed.id == "serial:HW-1" and listed.site == "Lobby" and listed.verdict.group == "hikvision"
    assert shown is not None and shown.site == "Lobby" and shown.conflicts
    assert {o.kind for o in shown.observations} >= {"http.server", "inventory.manufacturer"}
    assert [s.source for s in seen_in] == ["probe", "import:table:cmdb"]


# ---------------------------------------------------------------- which evidence names the product


def test_product_precedence_examples_hold(engine: Engine) -> None:
    """Every example in data/product_precedence.toml, through the real rules and resolve."""
    import tomllib
    from importlib import resources

    doc = tomllib.loads(resources.files("vendorscope.identify").joinpath("data/product_precedence.toml")
                        .read_text("utf-8"))
    assert doc["example"], "the precedence data carries examples"
    for example in doc["example"]:
        observations = [obs(e["kind"], e["value"], mac="f8:4a:bf:00:00:01") for e in example["evidence"]]
        # In either order of arrival the device's model wins over the service's name.
        for ordered in (observations, observations[::-1]):
            (asset,) = resolve(ordered, engine.identify)
            assert asset.verdict.product == example["product"], (example["device"], asset.verdict)


def test_a_device_model_beats_a_service_name_across_sources(engine: Engine) -> None:
    """The demo's OLT: SSH says "VRP SSH server 1.5", the inventory says "MA5800-X17 OLT"."""
    probe = resolve([obs("ssh.banner", "SSH-2.0-HUAWEI-1.5", ip="192.0.2.20")], engine.identify)
    assert probe[0].verdict.product == "VRP SSH server" and probe[0].verdict.version == "1.5"
    inventory = resolve([obs("inventory.manufacturer", "Huawei", ip="192.0.2.20", serial="21023"),
                         obs("inventory.model", "MA5800-X17 OLT", ip="192.0.2.20", serial="21023")], engine.identify)
    (olt,) = merge_by_id([probe, inventory])
    assert olt.verdict.vendor == "huawei"
    # The SSH server's version is not the OLT's: no version rather than a wrong one.
    assert olt.verdict.product == "MA5800-X17" and olt.verdict.version is None


def test_an_entity_mib_model_name_beats_a_service_name(engine: Engine) -> None:
    """The real MA5800's sysDescr is only "Huawei Integrated Access Software"; ENTITY-MIB names the model."""
    seen = [obs("ssh.banner", "SSH-2.0-HUAWEI-1.5", ip="192.0.2.20"),
            obs("snmp.sysdescr", "Huawei Integrated Access Software", ip="192.0.2.20"),
            obs("snmp.entity.model_name", "MA5800-X17", ip="192.0.2.20")]
    for ordered in (seen, seen[::-1]):
        (olt,) = resolve(ordered, engine.identify)
        assert (olt.verdict.vendor, olt.verdict.product, olt.verdict.version) == ("huawei", "MA5800-X17", None)
    # Stored parts merged again keep it (the store re-reconciles merged parts).
    ssh = resolve(seen[:1], engine.identify)
    snmp = resolve(seen[1:], engine.identify)
    (merged,) = merge_by_id([ssh, snmp])
    assert merged.verdict.product == "MA5800-X17"


def test_a_bare_model_name_never_names_a_vendor_nor_beats_a_device_rule(engine: Engine) -> None:
    (alone,) = resolve([obs("snmp.entity.model_name", "MA5800-X17", ip="192.0.2.21")], engine.identify)
    assert alone.verdict.vendor is None and alone.verdict.product is None
    (ruled,) = resolve([obs("snmp.sysdescr", "HUAWEI MA5683T", ip="192.0.2.22"),
                        obs("snmp.entity.model_name", "chassis", ip="192.0.2.22")], engine.identify)
    assert ruled.verdict.product == "MA5683T"


def test_product_ranks_follow_the_tiers() -> None:
    from vendorscope.resolve import parse_product_ranks, product_ranks

    ranks = product_ranks()
    assert ranks["snmp.sysdescr"] < ranks["http.title"] and "ssh.banner" not in ranks
    tiers = '[[tier]]\nkinds = ["a", "b"]\n[[tier]]\nkinds = ["c", "a"]\n'
    assert parse_product_ranks(tiers) == {"a": 0, "b": 0, "c": 1}


# ---------------------------------------------------------------- annotations follow the device


def test_annotations_follow_the_device_when_a_merge_changes_its_id(tmp_path: Path, engine: Engine) -> None:
    """Annotate ip:…, then an inventory adds a serial (the id becomes serial:…): role, site, tags stay."""
    from typer.testing import CliRunner

    from vendorscope.cli import app
    from vendorscope.pipeline import ingest
    from vendorscope.store.inventory import open_inventory

    db = str(tmp_path / "inv.db")
    ingest([obs("ssh.banner", "SSH-2.0-HUAWEI-1.5", ip="192.0.2.20")], source="probe", db=db, engine=engine,
           started_at=T0)
    with open_inventory(db, create=False) as inv:
        note = inv.annotate("ip:192.0.2.20", role=Role.core, site="fra-1", add_tags=["government"])
    assert note.asset_id == "ip:192.0.2.20"
    ingest([obs("inventory.model", "MA5800-X17 OLT", ip="192.0.2.20", serial="21023"),
            obs("inventory.manufacturer", "Huawei", ip="192.0.2.20", serial="21023")],
           source="import:table:cmdb", db=db, engine=engine, started_at=T0 + timedelta(days=1))
    with open_inventory(db, create=False) as inv:
        (olt,) = inv.assets()
        shown = inv.asset("serial:21023")
        by_role = inv.assets(role=Role.core)
        # A stronger id's own annotation wins where both speak; tags from both add up.
        inv.annotate("serial:21023", site="fra-2", add_tags=["critical"])
        (again,) = inv.assets()
        history = inv.history()
    assert olt.id == "serial:21023"
    assert olt.role is Role.core and olt.site == "fra-1" and olt.site_tags == {"government"}
    assert shown is not None and shown.role is Role.core and shown.site == "fra-1"
    assert [a.id for a in by_role] == ["serial:21023"]
    assert again.site == "fra-2" and again.role is Role.core and again.site_tags == {"government", "critical"}
    assert history[-1].assets == 1

    shown_cli = CliRunner().invoke(app, ["asset", "serial:21023", "--db", db])
    assert shown_cli.exit_code == 0 and "role core (set by you); site fra-2 (set by you)" in shown_cli.output
    findings = CliRunner().invoke(app, ["findings", "--db", db, "--policy", "de-5g-2024", "-f", "jsonl"])
    assert findings.exit_code == 0 and '"role": "core"' in findings.output


def test_annotation_for_folds_weak_ids_first() -> None:
    from vendorscope.model import Annotation, Asset, Verdict
    from vendorscope.resolve import annotation_for, annotation_ids

    device = Asset(id="serial:S1", keys={"ip": {"192.0.2.1"}, "serial": {"S1"}}, observations=[], attributions=[],
                   verdict=Verdict(None, None, None, 0.0), conflicts=[])
    assert annotation_ids(device) == ["ip:192.0.2.1", "serial:S1"]
    notes = {"ip:192.0.2.1": Annotation("ip:192.0.2.1", Role.ran, "a", frozenset({"x", "y"})),
             "serial:S1": Annotation("serial:S1", None, "b", frozenset(), frozenset({"y"})),
             "ip:192.0.2.99": Annotation("ip:192.0.2.99", Role.core)}
    folded = annotation_for(device, notes)
    assert folded is not None and folded.role is Role.ran and folded.site == "b" and folded.tags == {"x"}
    assert annotation_for(device, {}) is None
