"""Passive discovery: every device seen in a packet capture, with the frames that prove it.

``read_observations(path)`` streams a pcap/pcapng file (gzip too) in constant
memory and yields deduplicated :class:`~vendorscope.model.Observation` records;
damage is counted in a :class:`SkipReport`. Nothing here sends a packet.
"""

from vendorscope.collect.pcap.errors import DecodeError, NotACaptureError, SkipReport
from vendorscope.collect.pcap.extract import Extractor
from vendorscope.collect.pcap.observe import read_observations

__all__ = ["DecodeError", "Extractor", "NotACaptureError", "SkipReport", "read_observations"]
