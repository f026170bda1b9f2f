"""Emulated devices on 127.0.0.0/8 for tests, benchmarks and the demo.

`Lab` starts them (one loopback address per device, real protocol servers);
`vendorscope lab up` runs one in the background and writes a scope file.
The servers' libraries are heavy to import, so names load on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vendorscope.lab.model import LabDevice, LabError
    from vendorscope.lab.profiles import Profile, ProfileError, load_profiles
    from vendorscope.lab.runner import Lab

_WHERE = {
    "Lab": "vendorscope.lab.runner",
    "LabDevice": "vendorscope.lab.model",
    "LabError": "vendorscope.lab.model",
    "Profile": "vendorscope.lab.profiles",
    "ProfileError": "vendorscope.lab.profiles",
    "load_profiles": "vendorscope.lab.profiles",
}
__all__ = ["Lab", "LabDevice", "LabError", "Profile", "ProfileError", "load_profiles"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'vendorscope.lab' has no attribute {name!r}")
