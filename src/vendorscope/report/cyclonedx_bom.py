"""A CycloneDX 1.6 hardware BOM of the inventory: one ``device`` component per asset.

:func:`bom_dict` decides the content. Up to ``LIBRARY_MAX_ASSETS`` assets the
document is built and serialised through cyclonedx-python-lib's model (the
reference implementation of the format); above that it is written as JSON
directly from the same content, because the library's model costs a few
milliseconds per component and ``Bom.validate`` registers dependencies in
quadratic time: minutes for a 50,000-asset inventory where the direct writer
takes about a second. The tests validate both with the library's strict JSON
schema validator and check that they carry the same components, properties and
evidence (docs/report.md).

Each component: ``bom-ref`` is the asset id; ``name`` the product (or what is
known of it); ``version`` the verdict's version; ``supplier`` and
``manufacturer`` the verdict's vendor; ``properties`` in the ``vendorscope:``
namespace carry the asset keys, vendor ids, verdict confidence, role, site,
site tags, category, each finding's status and any label/fingerprint
conflict; ``evidence.identity`` lists the observations that named the maker.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from typing import IO, Any

from vendorscope.model import Asset, Finding
from vendorscope.report.data import STATUS_ORDER, ReportData, clip, evidence_dict, strongest_evidence

SPEC_VERSION = "1.6"
SCHEMA_URI = "http://cyclonedx.org/schema/bom-1.6.schema.json"
NS = "vendorscope"
TOOL_REF = "vendorscope-tool"
# Above this many assets the BOM is written directly rather than through the library's model.
LIBRARY_MAX_ASSETS = 2_000


def component_name(asset: Asset) -> str:
    v = asset.verdict
    if v.product:
        return v.product
    if v.vendor_name and v.device_type:
        return f"{v.vendor_name} {v.device_type}"
    if v.vendor_name:
        return f"{v.vendor_name} device"
    return f"unidentified {v.device_type or 'device'}"


def _prop(name: str, value: object) -> dict[str, str]:
    return {"name": f"{NS}:{name}", "value": str(value)}


def _properties(asset: Asset, category: str | None, findings: list[Finding]) -> list[dict[str, str]]:
    v = asset.verdict
    props: list[dict[str, str]] = []
    for key, values in sorted(asset.keys.items()):
        props.extend(_prop(f"key:{key}", value) for value in sorted(values))
    for name, value in (
        ("vendor", v.vendor),
        ("vendor_group", v.group),
        ("device_type", v.device_type),
    ):
        if value:
            props.append(_prop(name, value))
    props.append(_prop("verdict_confidence", f"{v.confidence:.2f}"))
    props.append(_prop("role", asset.role.value))
    if asset.site:
        props.append(_prop("site", asset.site))
    props.extend(_prop("site_tag", t) for t in sorted(asset.site_tags))
    if category:
        props.append(_prop("category", category))
    if findings:
        ranked = sorted(findings, key=lambda f: STATUS_ORDER.index(f.status) if f.status in STATUS_ORDER else 99)
        props.append(_prop("status", ranked[0].status.value))
        for f in ranked:
            deadline = f", deadline {f.deadline.isoformat()}" if f.deadline else ""
            props.append(_prop("finding", f"{f.policy}/{f.requirement}: {f.status.value}{deadline}"))
    props.extend(_prop("conflict", c.detail) for c in asset.conflicts)
    if asset.first_seen:
        props.append(_prop("first_seen", asset.first_seen.isoformat()))
    if asset.last_seen:
        props.append(_prop("last_seen", asset.last_seen.isoformat()))
    return props


def _evidence(asset: Asset, name: str) -> dict[str, Any] | None:
    methods = []
    for link in strongest_evidence(asset):
        e = evidence_dict(link)  # the same fields, bounded the same way, as the JSON and HTML reports
        what = f"{e['kind']}: {clip(e['value'] or '', 500)}" if e["kind"] else "no stored observation"
        seen = f", {e['observation_id']}" if e["observation_id"] else ""
        methods.append(
            {
                "technique": "attestation" if (e["kind"] or "").startswith("inventory.") else "other",
                "confidence": e["confidence"],
                "value": f"{what} (rule {e['rule']}, vendor {e['vendor']}{seen})",
            }
        )
    if not methods:
        return None
    return {
        "identity": [
            {
                "field": "name",
                "confidence": round(float(asset.verdict.confidence), 4),
                "concludedValue": name,
                "methods": methods,
            }
        ]
    }


def component(asset: Asset, category: str | None, findings: list[Finding]) -> dict[str, Any]:
    v = asset.verdict
    name = component_name(asset)
    comp: dict[str, Any] = {"type": "device", "bom-ref": asset.id, "name": name}
    if v.version:
        comp["version"] = v.version
    if v.vendor_name:
        comp["supplier"] = {"name": v.vendor_name}
        comp["manufacturer"] = {"name": v.vendor_name}
    if v.device_type:
        comp["description"] = v.device_type
    comp["properties"] = _properties(asset, category, findings)
    evidence = _evidence(asset, name)
    if evidence is not None:
        comp["evidence"] = evidence
    return comp


def bom_dict(data: ReportData, serial: uuid.UUID | None = None) -> dict[str, Any]:
    """The BOM as JSON-ready data."""
    per_asset: dict[str, list[Finding]] = defaultdict(list)
    for f in data.findings:
        per_asset[f.asset_id].append(f)
    meta_props = [_prop("as_of", data.as_of.isoformat())]
    meta_props.extend(_prop("policy", p.id) for p in data.policies)
    return {
        "$schema": SCHEMA_URI,
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": (serial or uuid.uuid4()).urn,
        "version": 1,
        "metadata": {
            "timestamp": data.generated_at.isoformat(),
            "lifecycles": [{"phase": "discovery"}],
            "tools": {
                "components": [
                    {"type": "application", "bom-ref": TOOL_REF, "name": "vendorscope", "version": data.tool_version}
                ]
            },
            "properties": meta_props,
        },
        "components": [
            component(
                a,
                None if (c := data.categories.get(a.id)) is None else c.value,
                per_asset.get(a.id, []),
            )
            for a in data.assets
        ],
    }


def library_bom_json(doc: dict[str, Any], *, indent: int | None = 2) -> str:
    """The BOM content of :func:`bom_dict` built and serialised by cyclonedx-python-lib."""
    from datetime import datetime
    from decimal import Decimal

    from cyclonedx.model import Property
    from cyclonedx.model.bom import Bom, BomMetaData
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.component_evidence import (
        AnalysisTechnique,
        ComponentEvidence,
        Identity,
        IdentityField,
        Method,
    )
    from cyclonedx.model.contact import OrganizationalEntity
    from cyclonedx.model.lifecycle import LifecyclePhase, PredefinedLifecycle
    from cyclonedx.model.tool import ToolRepository
    from cyclonedx.output.json import JsonV1Dot6

    def properties(items: list[dict[str, str]]) -> list[Property]:
        return [Property(name=p["name"], value=p["value"]) for p in items]

    def evidence(raw: dict[str, Any] | None) -> ComponentEvidence | None:
        if raw is None:
            return None
        return ComponentEvidence(identity=[
            Identity(field=IdentityField(i["field"]), confidence=Decimal(str(i["confidence"])),
                     concluded_value=i["concludedValue"],
                     methods=[Method(technique=AnalysisTechnique(m["technique"]),
                                     confidence=Decimal(str(m["confidence"])), value=m["value"])
                              for m in i["methods"]])
            for i in raw["identity"]
        ])

    def device(c: dict[str, Any]) -> Component:
        supplier = c.get("supplier")
        maker = c.get("manufacturer")
        return Component(
            type=ComponentType.DEVICE, bom_ref=c["bom-ref"], name=c["name"], version=c.get("version"),
            supplier=OrganizationalEntity(name=supplier["name"]) if supplier else None,
            manufacturer=OrganizationalEntity(name=maker["name"]) if maker else None,
            description=c.get("description"), properties=properties(c["properties"]),
            evidence=evidence(c.get("evidence")),
        )

    meta = doc["metadata"]
    (tool,) = meta["tools"]["components"]
    bom = Bom(
        serial_number=uuid.UUID(doc["serialNumber"].removeprefix("urn:uuid:")),
        version=doc["version"],
        metadata=BomMetaData(
            timestamp=datetime.fromisoformat(meta["timestamp"]),
            lifecycles=[PredefinedLifecycle(LifecyclePhase(p["phase"])) for p in meta["lifecycles"]],
            tools=ToolRepository(components=[Component(type=ComponentType.APPLICATION, bom_ref=tool["bom-ref"],
                                                       name=tool["name"], version=tool["version"])]),
            properties=properties(meta["properties"]),
        ),
        components=[device(c) for c in doc["components"]],
    )
    built = json.loads(JsonV1Dot6(bom).output_as_string())
    # The library keeps components as a sorted set; the report lists them in inventory order.
    position = {c["bom-ref"]: i for i, c in enumerate(doc["components"])}
    built["components"] = sorted(built.get("components", []), key=lambda c: position[c["bom-ref"]])
    return json.dumps(built, ensure_ascii=False, indent=indent) + "\n"


def render_bom(data: ReportData, *, indent: int | None = 2, library_max_assets: int = LIBRARY_MAX_ASSETS) -> str:
    """The BOM as JSON text: through cyclonedx-python-lib up to ``library_max_assets`` assets, directly above."""
    doc = bom_dict(data)
    ids = [a.id for a in data.assets]
    # The library renames repeated bom-refs; the store never repeats an asset id, hand-built data may.
    if len(ids) <= library_max_assets and len(set(ids)) == len(ids):
        return library_bom_json(doc, indent=indent)
    return json.dumps(doc, ensure_ascii=False, indent=indent) + "\n"


def write_bom(data: ReportData, out: IO[str], *, indent: int | None = 2) -> None:
    out.write(render_bom(data, indent=indent))
