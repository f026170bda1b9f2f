"""SBOMs → observations: CycloneDX (JSON and XML, 1.4–1.6, hardware too) and SPDX 2.3 JSON.

An SBOM describes a product: CycloneDX ``metadata.component``, SPDX's
described packages (or, lacking both, a lone top-level ``device``
component). That product is one asset. Every part listed under it —
chips (CycloneDX ``device`` components), firmware, operating system,
libraries — is evidence about the product it belongs to.

The product's own manufacturer (SPDX: originator) is ``sbom.manufacturer``,
its supplier and publisher ``sbom.supplier``, its CPEs ``cpe``, its name and
PURL ``sbom.component`` / ``sbom.purl``. A part's maker, supplier,
publisher, CPE vendor and PURL namespace all become the weaker
``sbom.supplier``: a HiSilicon SoC in another maker's camera is worth
showing, but it does not make the camera HiSilicon's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain
from typing import IO, Any
from urllib.parse import unquote
from xml.etree.ElementTree import Element, ParseError

import msgspec
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from vendorscope.collect.imports.common import (
    Collector,
    clean,
    found,
    ip_or_none,
    mac_or_none,
    observation,
    parse_time,
)
from vendorscope.evidence.record import Evidence
from vendorscope.model import AssetKeys, Observation

# An SBOM is read whole (its long lists then decoded an element at a time), so what is read is
# bounded (docs/limits.md): the document as decompressed, and each line of it (a gzip of a few MB
# can hold one line of gigabytes).
MAX_SBOM_BYTES = 128 << 20
MAX_SBOM_LINE = 32 << 20
_READ_CHUNK = 1 << 20
NEWLINE = b"\n"
DEVICE_TYPES = frozenset({"device"})
SPDX_DEVICE = "DEVICE"
_BYTE_AT = re.compile(r"byte (\d+)")
_SPDX_AGENT = re.compile(r"^\s*(?:Organization|Person|Tool)\s*:\s*(.*?)\s*(?:\([^()]*\))?\s*$", re.I)
_PURL = re.compile(r"^pkg:([a-zA-Z][\w.+-]*)/(.+?)(?:@[^?#]*)?(?:[?#].*)?$")
_CONTAINS = {"CONTAINS": False, "CONTAINED_BY": True, "DEPENDS_ON": False, "DEPENDENCY_OF": True,
             "PACKAGE_OF": True, "HAS_PREREQUISITE": False}


@dataclass(slots=True)  # a large SBOM holds one per component until it is read
class Component:
    """One CycloneDX component or SPDX package, in the shape this module needs."""

    place: str
    name: str | None = None
    version: str | None = None
    type: str | None = None
    manufacturer: str | None = None
    supplier: str | None = None
    publisher: str | None = None
    cpes: list[str] = field(default_factory=list)
    purl: str | None = None
    ref: str | None = None
    properties: dict[str, str] = field(default_factory=dict)
    children: list[Component] = field(default_factory=list)

    @property
    def is_device(self) -> bool:
        return (self.type or "").lower() in DEVICE_TYPES


@dataclass
class Document:
    format: str  # "CycloneDX 1.6", "SPDX-2.3"
    id: str  # serial number / namespace, or the file name
    subjects: list[Component]  # what the document is about
    components: list[Component]  # top-level components not under a subject
    created: datetime | None = None


class SbomError(ValueError):
    """The whole document is unusable (the message says why; ``place`` where)."""

    def __init__(self, message: str, place: str = "") -> None:
        super().__init__(message)
        self.place = place


# -- reading ------------------------------------------------------------------------------------


def read_document(stream: IO[bytes], max_bytes: int = MAX_SBOM_BYTES, max_line: int = MAX_SBOM_LINE) -> bytearray:
    """A document's bytes, read in pieces and never more than the limits; raises SbomError.

    A line longer than ``max_line`` is named by its number; reading stops there,
    so memory stays near the limit whatever the file inflates to. The pieces are
    added to one growing buffer (no second copy of the document when it ends).
    """
    data = bytearray()
    line = 1
    line_length = 0
    while chunk := stream.read(_READ_CHUNK):
        pieces = chunk.split(NEWLINE)
        lengths = [len(piece) for piece in pieces]
        lengths[0] += line_length  # the line the previous piece left open
        longest = max(range(len(lengths)), key=lengths.__getitem__)
        if lengths[longest] > max_line:
            raise SbomError(f"line longer than {max_line >> 20} MB: not read (see docs/limits.md)",
                            f"line {line + longest}")
        line += len(pieces) - 1
        line_length = lengths[-1]
        if len(data) + len(chunk) > max_bytes:
            raise SbomError(f"larger than {max_bytes >> 20} MB decompressed: not read (see docs/limits.md)")
        data += chunk
    return data


def read_sbom(data: bytes | bytearray, file: str, source: str, collector: Collector,
              now: datetime) -> Iterator[Observation]:
    """Observations from one SBOM file's bytes; unusable documents and components are bad records."""
    try:
        document = parse_document(data, file, collector)
    except SbomError as exc:
        collector.bad(file, exc.place, str(exc))
        return
    yield from document_observations(document, file=file, source=source, seen_at=document.created or now,
                                     collector=collector)


def parse_document(data: bytes | bytearray, file: str, collector: Collector) -> Document:
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{"):
        return parse_json(data, file, collector)
    if head.startswith(b"<"):
        if b"<rdf:RDF" in data[:65536] or b"spdx.org/rdf" in data[:65536]:
            raise SbomError("SPDX RDF/XML is not supported: convert it to SPDX JSON")
        return parse_cyclonedx_xml(data, file, collector)
    if head.startswith(b"SPDXVersion:"):
        raise SbomError("SPDX tag-value is not supported: convert it to SPDX JSON")
    raise SbomError("not a CycloneDX (JSON or XML) or SPDX JSON document")


class _Top(msgspec.Struct):
    """The top-level fields of a CycloneDX or SPDX JSON document this module reads.

    Decoding into it skips every other field unbuilt, and keeps the long lists
    (components, packages, relationships) as raw JSON, each element decoded only
    when its turn comes: a document of 100,000 components never exists as
    100,000 dicts at once.
    """

    bomFormat: Any = None  # noqa: N815 - the documents' own names
    specVersion: Any = None  # noqa: N815
    serialNumber: Any = None  # noqa: N815
    metadata: Any = None
    components: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)  # empty: absent
    spdxVersion: Any = None  # noqa: N815
    SPDXID: Any = None  # noqa: N815
    documentNamespace: Any = None  # noqa: N815
    documentDescribes: Any = None  # noqa: N815
    creationInfo: Any = None  # noqa: N815
    packages: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)  # empty: absent
    relationships: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)  # empty: absent
    context: Any = msgspec.field(default=None, name="@context")


class _NotAList:
    """Stands for a long list field whose JSON is something else (the readers say so where it matters)."""


_RAW_LIST = msgspec.json.Decoder(list[msgspec.Raw])


def _raw_list(raw: msgspec.Raw) -> list[msgspec.Raw] | _NotAList | None:
    if not raw:
        return None
    try:
        return _RAW_LIST.decode(raw)
    except msgspec.ValidationError:
        return _NotAList()


def _element(raw: Any) -> Any:
    """One element of a long list, decoded now (elements of lists built otherwise pass through)."""
    return msgspec.json.decode(raw) if isinstance(raw, msgspec.Raw) else raw


def parse_json(data: bytes | bytearray, file: str, collector: Collector) -> Document:
    try:
        top = msgspec.json.decode(data, type=_Top)
    except msgspec.ValidationError:
        raise SbomError("not a CycloneDX or SPDX document (the JSON is not an object)") from None
    except msgspec.DecodeError as exc:
        m = _BYTE_AT.search(str(exc))
        place = f"line {data.count(NEWLINE, 0, int(m.group(1))) + 1}" if m else ""
        raise SbomError(f"malformed JSON: {exc}", place) from None
    doc: dict[str, Any] = {name: getattr(top, name) for name in top.__struct_fields__}
    for name in ("components", "packages", "relationships"):
        doc[name] = _raw_list(doc[name])
    doc = {name: value for name, value in doc.items() if value is not None}
    if top.bomFormat == "CycloneDX":
        return cyclonedx_from_json(doc, file, collector)
    if isinstance(top.spdxVersion, str):
        return spdx_from_json(doc, file, collector)
    if top.context is not None and "spdx" in str(top.context).lower():
        raise SbomError("SPDX 3 (JSON-LD) is not supported yet: export SPDX 2.3 JSON")
    raise SbomError("not a CycloneDX or SPDX document (no bomFormat or spdxVersion)")


# -- CycloneDX JSON -------------------------------------------------------------------------------


def _entity_name(value: Any) -> str | None:
    """An organizationalEntity's name (or a plain string, which some tools write)."""
    if isinstance(value, dict):
        return clean(value.get("name"), 256)
    if isinstance(value, str):
        return clean(value, 256)
    return None


def _properties(value: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for prop in value if isinstance(value, list) else []:
        if isinstance(prop, dict) and isinstance(prop.get("name"), str) and prop.get("value") is not None:
            out[prop["name"]] = str(prop["value"])[:256]
    return out


def cdx_component(raw: Any, place: str, file: str, collector: Collector) -> Component | None:
    raw = _element(raw)
    if not isinstance(raw, dict):
        collector.bad(file, place, "component is not an object")
        return None
    cpe = raw.get("cpe")
    if cpe is not None and not isinstance(cpe, str):
        collector.bad(file, place, "cpe is not a string")
        return None
    component = Component(
        place=place,
        name=clean(raw.get("name"), 256),
        version=clean(raw.get("version"), 128),
        type=clean(raw.get("type"), 32),
        manufacturer=_entity_name(raw.get("manufacturer")),
        supplier=_entity_name(raw.get("supplier")),
        publisher=clean(raw.get("publisher"), 256) if isinstance(raw.get("publisher"), str) else None,
        cpes=[cpe] if cpe else [],
        purl=clean(raw.get("purl"), 512) if isinstance(raw.get("purl"), str) else None,
        ref=clean(raw.get("bom-ref"), 256) if isinstance(raw.get("bom-ref"), str) else None,
        properties=_properties(raw.get("properties")),
    )
    children = raw.get("components")
    if children is not None:
        if not isinstance(children, list):
            collector.bad(file, place, "components is not a list")
        else:
            component.children = _cdx_list(children, f"{place}.components", file, collector)
    return component


def _cdx_list(items: list[Any], place: str, file: str, collector: Collector) -> list[Component]:
    out = []
    for i, raw in enumerate(items):
        component = cdx_component(raw, f"{place}[{i}]", file, collector)
        if component is not None:
            collector.good()
            out.append(component)
    return out


def cyclonedx_from_json(doc: dict[str, Any], file: str, collector: Collector) -> Document:
    version = str(doc.get("specVersion") or "?")
    metadata = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    assert isinstance(metadata, dict)
    subjects: list[Component] = []
    if "component" in metadata:
        subject = cdx_component(metadata["component"], "metadata.component", file, collector)
        if subject is not None:
            collector.good()
            subject.manufacturer = subject.manufacturer or _entity_name(
                metadata.get("manufacturer") or metadata.get("manufacture"))
            subject.supplier = subject.supplier or _entity_name(metadata.get("supplier"))
            subjects.append(subject)
    components = doc.get("components", [])
    if not isinstance(components, list):
        raise SbomError("components is not a list", "components")
    top = _cdx_list(components, "components", file, collector)
    return Document(
        format=f"CycloneDX {version}",
        id=clean(doc.get("serialNumber"), 256) or file,
        subjects=subjects,
        components=top,
        created=parse_time(metadata.get("timestamp")),
    )


# -- CycloneDX XML --------------------------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(elem: Element, name: str) -> Element | None:
    return next((c for c in elem if _local(c.tag) == name), None)


def _children(elem: Element, name: str) -> list[Element]:
    return [c for c in elem if _local(c.tag) == name]


def _child_text(elem: Element, name: str, limit: int = 256) -> str | None:
    child = _child(elem, name)
    return clean(child.text, limit) if child is not None else None


def _xml_entity(elem: Element, name: str) -> str | None:
    child = _child(elem, name)
    return _child_text(child, "name") if child is not None else None


def cdx_xml_component(elem: Element, place: str, file: str, collector: Collector) -> Component:
    properties = {}
    props = _child(elem, "properties")
    if props is not None:
        for prop in _children(props, "property"):
            if prop.get("name"):
                properties[str(prop.get("name"))] = (prop.text or "").strip()[:256]
    cpe = _child_text(elem, "cpe", 512)
    component = Component(
        place=place,
        name=_child_text(elem, "name"),
        version=_child_text(elem, "version", 128),
        type=clean(elem.get("type"), 32),
        manufacturer=_xml_entity(elem, "manufacturer"),
        supplier=_xml_entity(elem, "supplier"),
        publisher=_child_text(elem, "publisher"),
        cpes=[cpe] if cpe else [],
        purl=_child_text(elem, "purl", 512),
        ref=clean(elem.get("bom-ref"), 256),
        properties=properties,
    )
    nested = _child(elem, "components")
    if nested is not None:
        for i, child in enumerate(_children(nested, "component")):
            collector.good()
            component.children.append(cdx_xml_component(child, f"{place}/components/component[{i + 1}]",
                                                         file, collector))
    return component


def parse_cyclonedx_xml(data: bytes | bytearray, file: str, collector: Collector) -> Document:
    try:
        root = fromstring(data)
    except ParseError as exc:
        line = getattr(exc, "position", (0, 0))[0]
        raise SbomError(f"malformed XML: {str(exc).split(':', 1)[0]}", f"line {line}" if line else "") from None
    except DefusedXmlException as exc:
        raise SbomError(f"refused XML construct (entities are never expanded): {exc}") from None
    except ValueError as exc:
        raise SbomError(f"unreadable XML: {exc}") from None
    if _local(root.tag) != "bom" or "cyclonedx.org/schema/bom" not in root.tag:
        raise SbomError(f"not a CycloneDX document (root element <{_local(root.tag)}>)")
    version = root.tag.split("}")[0].rsplit("/", 1)[-1]
    subjects: list[Component] = []
    metadata = _child(root, "metadata")
    created = None
    if metadata is not None:
        created = parse_time(_child_text(metadata, "timestamp"))
        meta_component = _child(metadata, "component")
        if meta_component is not None:
            collector.good()
            subject = cdx_xml_component(meta_component, "metadata/component", file, collector)
            subject.manufacturer = subject.manufacturer or _xml_entity(metadata, "manufacturer") or _xml_entity(
                metadata, "manufacture")
            subject.supplier = subject.supplier or _xml_entity(metadata, "supplier")
            subjects.append(subject)
    top: list[Component] = []
    components = _child(root, "components")
    if components is not None:
        for i, elem in enumerate(_children(components, "component")):
            collector.good()
            top.append(cdx_xml_component(elem, f"components/component[{i + 1}]", file, collector))
    return Document(f"CycloneDX {version}", clean(root.get("serialNumber"), 256) or file, subjects, top, created)


# -- SPDX 2.x JSON --------------------------------------------------------------------------------


def spdx_agent(value: Any) -> str | None:
    """``Organization: Huawei Technologies Co., Ltd. (x@y)`` → the name; NOASSERTION → None."""
    if not isinstance(value, str) or value.strip().upper() in ("", "NOASSERTION", "NONE"):
        return None
    m = _SPDX_AGENT.match(value)
    return clean(m.group(1) if m else value, 256)


def spdx_from_json(doc: dict[str, Any], file: str, collector: Collector) -> Document:
    version = str(doc.get("spdxVersion"))
    if not version.startswith("SPDX-2."):
        raise SbomError(f"{version} is not supported (SPDX 2.2 and 2.3 JSON are)")
    packages = doc.get("packages", [])
    if not isinstance(packages, list):
        raise SbomError("packages is not a list", "packages")
    by_id: dict[str, Component] = {}
    order: list[Component] = []
    for i, element in enumerate(packages):
        place = f"packages[{i}]"
        raw = _element(element)
        if not isinstance(raw, dict):
            collector.bad(file, place, "package is not an object")
            continue
        cpes, purl = [], None
        refs = raw.get("externalRefs", [])
        for ref in refs if isinstance(refs, list) else []:
            if not isinstance(ref, dict):
                continue
            kind, locator = str(ref.get("referenceType", "")), ref.get("referenceLocator")
            if not isinstance(locator, str):
                continue
            if kind.startswith("cpe") or locator.startswith("cpe:"):
                cpes.append(locator)
            elif kind == "purl" and purl is None:
                purl = locator
        purpose = raw.get("primaryPackagePurpose")
        component = Component(
            place=place,
            name=clean(raw.get("name"), 256),
            version=clean(raw.get("versionInfo"), 128),
            type=str(purpose).lower() if isinstance(purpose, str) else None,
            manufacturer=spdx_agent(raw.get("originator")),
            supplier=spdx_agent(raw.get("supplier")),
            cpes=cpes,
            purl=clean(purl, 512),
            ref=raw.get("SPDXID") if isinstance(raw.get("SPDXID"), str) else None,
        )
        collector.good()
        order.append(component)
        if component.ref:
            by_id[component.ref] = component
    doc_id = doc.get("SPDXID") or "SPDXRef-DOCUMENT"
    described = [d for d in doc.get("documentDescribes", []) if isinstance(d, str)] if isinstance(
        doc.get("documentDescribes"), list) else []
    parent_of: dict[str, str] = {}
    relationships = doc.get("relationships", [])
    for i, element in enumerate(relationships if isinstance(relationships, list) else []):
        rel = _element(element)
        if not isinstance(rel, dict):
            collector.bad(file, f"relationships[{i}]", "relationship is not an object")
            continue
        a, relation, b = rel.get("spdxElementId"), rel.get("relationshipType"), rel.get("relatedSpdxElement")
        if not isinstance(a, str) or not isinstance(b, str) or not isinstance(relation, str):
            continue
        if relation == "DESCRIBES" and a == doc_id:
            described.append(b)
        elif relation == "DESCRIBED_BY" and b == doc_id:
            described.append(a)
        elif relation in _CONTAINS:
            container, contained = (b, a) if _CONTAINS[relation] else (a, b)
            if contained != container and contained not in parent_of:
                parent_of[contained] = container
    subjects = [by_id[d] for d in dict.fromkeys(described) if d in by_id]
    subject_ids = {id(s) for s in subjects}
    top: list[Component] = []
    for component in order:
        if id(component) in subject_ids:
            continue
        parent = by_id.get(parent_of.get(component.ref or "", ""))
        # Attach to the parent unless that would make a cycle; walk at most a few hundred steps.
        if parent is not None and not _reaches(parent, component, parent_of, by_id):
            parent.children.append(component)
        else:
            top.append(component)
    for component in order:  # SPDX says "DEVICE"; CycloneDX's word is "device"
        if component.type == SPDX_DEVICE.lower():
            component.type = "device"
    created = parse_time(doc.get("creationInfo", {}).get("created")) if isinstance(
        doc.get("creationInfo"), dict) else None
    namespace = doc.get("documentNamespace")
    return Document(version, clean(namespace, 256) or file, subjects, top, created)


def _reaches(start: Component, target: Component, parent_of: dict[str, str], by_id: dict[str, Component]) -> bool:
    """Whether ``target`` is ``start`` or one of its ancestors (a containment cycle)."""
    current: Component | None = start
    for _ in range(1000):
        if current is None:
            return False
        if current is target:
            return True
        current = by_id.get(parent_of.get(current.ref or "", ""))
    return True


# -- observations ---------------------------------------------------------------------------------


def purl_organisation(purl: str) -> str | None:
    """The organisation a PURL's namespace names: ``pkg:maven/com.huawei.hms/x`` → huawei."""
    m = _PURL.match(purl)
    if m is None:
        return None
    kind, path = m.group(1).lower(), m.group(2)
    parts = [unquote(p) for p in path.split("/")]
    if len(parts) < 2:
        return None
    namespace = parts[:-1]
    if kind == "golang":
        return namespace[1] if len(namespace) > 1 and "." in namespace[0] else None
    first = namespace[0].lstrip("@")
    if kind == "maven" and "." in first:
        labels = first.split(".")
        return labels[1] if len(labels) > 1 and labels[0] in ("com", "org", "net", "cn", "io") else labels[0]
    return first or None


def cpe_vendor(cpe: str) -> str | None:
    """The vendor field of a CPE 2.2 URI or 2.3 formatted string."""
    parts = cpe.split(":")
    index = 3 if cpe.startswith("cpe:2.3:") else 2 if cpe.startswith("cpe:/") else None
    if index is None or len(parts) <= index or parts[index] in ("", "*", "-"):
        return None
    return parts[index].replace("_", " ").replace("\\", "")


def _asset_keys(component: Component | None, document: Document) -> AssetKeys:
    if component is None:
        return AssetKeys(asset_tag=document.id)
    props = {k.lower(): v for k, v in component.properties.items()}

    def prop(*words: str) -> str | None:
        return next((v for k, v in props.items() if v and any(w in k for w in words)), None)

    return AssetKeys(
        serial=clean(prop("serial"), 255),
        mac=mac_or_none(prop("mac")),
        ip=ip_or_none(prop("ipaddress", "ip-address", "ip_address", ":ip")),
        hostname=clean(prop("hostname"), 255),
        asset_tag=f"{document.id}#{component.ref or component.place}",
    )


_NAMED_TYPES = frozenset({"device", "firmware", "operating-system", "operating_system", "platform"})


def subject_evidence(component: Component) -> list[Evidence]:
    """What the document says about the product it describes: full-strength evidence."""
    where: dict[str, Any] = {"component": component.name, "component_type": component.type,
                             "element": component.place, "role": "subject"}
    out: list[Evidence] = [
        *found("sbom.manufacturer", component.manufacturer, {**where, "field": "manufacturer"}),
        *found("sbom.supplier", component.supplier, {**where, "field": "supplier"}),
        *found("sbom.supplier", component.publisher, {**where, "field": "publisher"}),
    ]
    out.extend(ev for cpe in component.cpes for ev in found("cpe", cpe, where))
    if component.purl:
        out.extend(found("sbom.purl", component.purl, where))
        out.extend(found("sbom.supplier", purl_organisation(component.purl), {**where, "field": "purl"}))
    if component.name:
        label = f"{component.name} {component.version}" if component.version else component.name
        out.extend(found("sbom.component", label, where))
    return out


def part_evidence(component: Component) -> list[Evidence]:
    """What a part (chip, firmware, library) says: who made or supplied it, as ``sbom.supplier``.

    Kept weaker than the product's own manufacturer on purpose: a HiSilicon
    SoC in another maker's camera is worth showing, but does not make the
    camera HiSilicon's.
    """
    where: dict[str, Any] = {"component": component.name, "component_type": component.type,
                             "element": component.place, "role": "part"}
    out: list[Evidence] = [
        *found("sbom.supplier", component.manufacturer, {**where, "field": "manufacturer"}),
        *found("sbom.supplier", component.supplier, {**where, "field": "supplier"}),
        *found("sbom.supplier", component.publisher, {**where, "field": "publisher"}),
    ]
    out.extend(ev for cpe in component.cpes
               for ev in found("sbom.supplier", cpe_vendor(cpe), {**where, "field": "cpe", "cpe": cpe}))
    if component.purl:
        out.extend(found("sbom.supplier", purl_organisation(component.purl),
                    {**where, "field": "purl", "purl": component.purl}))
    if component.name and (component.type or "").lower() in _NAMED_TYPES:
        label = f"{component.name} {component.version}" if component.version else component.name
        out.extend(found("sbom.component", label, where))
    return out


def _descendants(component: Component) -> Iterator[Component]:
    stack = list(reversed(component.children))
    while stack:
        child = stack.pop()
        yield child
        stack.extend(reversed(child.children))


def document_observations(
    document: Document, *, file: str, source: str, seen_at: datetime | None, collector: Collector
) -> Iterator[Observation]:
    """One asset per product the document describes; every part is evidence about its product.

    Without a described product, a single top-level ``device`` component is
    the product; otherwise the document itself stands for it.
    """
    subjects = list(document.subjects)
    loose = list(document.components)
    if not subjects:
        devices = [c for c in loose if c.is_device]
        if len(devices) == 1:
            subjects = devices
            loose = [c for c in loose if c is not devices[0]]
    owner = subjects[0] if subjects else None
    groups: list[tuple[AssetKeys, Component | None, list[Component]]] = []
    for subject in subjects:
        parts = list(_descendants(subject))
        if subject is owner:
            for component in loose:
                parts.append(component)
                parts.extend(_descendants(component))
        groups.append((_asset_keys(subject, document), subject, parts))
    if owner is None and loose:
        parts = [p for component in loose for p in (component, *_descendants(component))]
        groups.append((_asset_keys(None, document), None, parts))
    for keys, product, parts in groups:
        seen: set[tuple[str, str]] = set()
        # Part by part: a large SBOM's evidence is mostly repeats, never all held at once.
        evidence = chain(subject_evidence(product) if product is not None else [],
                         (e for part in parts for e in part_evidence(part)))
        for ev in evidence:
            if (ev.kind, ev.value.casefold()) not in seen:
                seen.add((ev.kind, ev.value.casefold()))
                yield observation(ev.kind, ev.value, source=source, seen_at=seen_at, keys=keys, file=file,
                                  format=document.format, **(ev.context or {}))
