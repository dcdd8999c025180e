"""Usage scopes: the whole network, one district, or one station (`district:<name>`)."""

from dataclasses import dataclass
from typing import Literal

ScopeKind = Literal["network", "district", "station"]


@dataclass(frozen=True)
class Scope:
    """What a usage question covers."""

    kind: ScopeKind
    name: str = ""

    def __str__(self) -> str:
        return self.kind if self.kind == "network" else f"{self.kind}:{self.name}"


def parse_scope(value: str) -> Scope:
    """`network`, `district:<name>` or `station:<id>`; ValueError otherwise."""
    if value == "network":
        return Scope("network")
    kind, sep, name = value.partition(":")
    if sep and name and kind == "district":
        return Scope("district", name)
    if sep and name and kind == "station":
        return Scope("station", name)
    raise ValueError("use network, district:<name> or station:<id>")
