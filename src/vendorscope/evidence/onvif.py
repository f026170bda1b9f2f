"""ONVIF (IP cameras and recorders): GetDeviceInformation's manufacturer, model, firmware, serial."""

from __future__ import annotations

from vendorscope.evidence import xml
from vendorscope.evidence.record import Evidence

PATH = "/onvif/device_service"
PORTS = frozenset({80, 8080, 8000})  # ONVIF rides on the camera's HTTP port
_WANTED = frozenset({"Manufacturer", "Model", "FirmwareVersion", "SerialNumber", "HardwareId"})


def parse_device_information(data: bytes) -> dict[str, str]:
    """Manufacturer, Model, FirmwareVersion, SerialNumber, HardwareId of a GetDeviceInformationResponse."""
    root = xml.root(data)
    if root is None:
        return {}
    response = next((el for el in root.iter() if xml.local(el.tag) == "GetDeviceInformationResponse"), None)
    if response is None:
        return {}
    out: dict[str, str] = {}
    for el in response.iter():
        name = xml.local(el.tag)
        if name in _WANTED and name not in out and el.text and el.text.strip():
            out[name] = xml.field_text(el.text)
    return out


def device_information_evidence(info: dict[str, str]) -> list[Evidence]:
    """onvif.manufacturer and onvif.model, each naming the other, firmware and serial in context;
    the serial also binds the evidence to the device."""
    serial = info.get("SerialNumber")
    extra = {"firmware": info.get("FirmwareVersion"), "hardware_id": info.get("HardwareId"), "serial": serial}
    out = []
    if info.get("Manufacturer"):
        out.append(Evidence("onvif.manufacturer", info["Manufacturer"], serial=serial,
                            context={"model": info.get("Model"), **extra}))
    if info.get("Model"):
        out.append(Evidence("onvif.model", info["Model"], serial=serial,
                            context={"manufacturer": info.get("Manufacturer"), **extra}))
    return out
