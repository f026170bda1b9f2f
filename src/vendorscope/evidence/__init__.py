"""Protocols → evidence: one module per protocol, shared by every source.

Each module takes the bytes (or the fields a scanner printed) of one protocol
and returns :class:`~vendorscope.evidence.record.Evidence`: the canonical value
and context of its kinds. It declares its ports once (``PORTS``) and is the only
place that knows how that protocol's values are normalised, so a capture, a
probe and an import of the same answer give the same observation. Transport
(reassembly, sockets, file formats) stays in :mod:`vendorscope.collect`. The
registry of kinds is :mod:`.kinds` (data in kinds.toml).
"""
