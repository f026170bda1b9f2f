"""The lldpRemTable answers of each SNMP agent in a capture, joined until the capture ends.

A manager walks lldpRemTable column by column (GETBULK), so one neighbour's chassis id, name and
description come in different answers; evidence/snmp.py turns rows into evidence once they are
whole. Memory is bounded: values per agent (``MAX_LLDP_VARBINDS``) and agents (``MAX_AGENTS``;
the answers of agents beyond it are read one by one, as a stateless reader would).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from vendorscope.evidence.record import Evidence
from vendorscope.evidence.snmp import (
    MAX_LLDP_VARBINDS,
    SnmpValue,
    read_answer,
    rows_evidence,
)

MAX_AGENTS = 4096


@dataclass(slots=True)
class AgentWalk:
    """The lldpRemTable values one agent gave, and where the first of them was seen."""

    frame: int
    ts: float
    port: int
    values: dict[str, SnmpValue] = field(default_factory=dict)


class LldpWalks:
    """Reads SNMP answers: facts at once, neighbour rows when the capture ends (:meth:`neighbours`)."""

    def __init__(self, max_agents: int = MAX_AGENTS) -> None:
        self.max_agents = max_agents
        self.agents: dict[str, AgentWalk] = {}

    def read(self, payload: bytes, agent: str, frame: int, ts: float, port: int) -> list[Evidence]:
        """The facts of one answer; its lldpRemTable values are kept for the agent's neighbours."""
        answer = read_answer(payload)
        if not answer.lldp_rows:
            return answer.facts
        walk = self.agents.get(agent)
        if walk is None:
            if len(self.agents) >= self.max_agents:
                return answer.facts + rows_evidence(answer.lldp_rows)
            walk = self.agents[agent] = AgentWalk(frame, ts, port)
        for oid, value in answer.lldp_rows:
            if oid in walk.values or len(walk.values) < MAX_LLDP_VARBINDS:
                walk.values[oid] = value  # a repeated walk gives the same row again: the later value stands
        return answer.facts

    def neighbours(self) -> Iterator[tuple[str, AgentWalk, list[Evidence]]]:
        """Each agent's neighbours from all its answers (the agent, where its walk began, the evidence);
        the table is emptied."""
        agents, self.agents = self.agents, {}
        for agent, walk in agents.items():
            found = rows_evidence(walk.values.items())
            if found:
                yield agent, walk, found
