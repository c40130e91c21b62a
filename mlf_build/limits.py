"""What reading one archive may cost in things looked at one by one (C tokens, JSON values, ELF
entries): a count per kind, shared by the readers of all its members, so that an archive of
many members cannot multiply the bound of one. Each reader names its kind and limit and
reports going over it in its own words. (Bytes are bounded where members are read:
``MlfSource.read_bytes``.)"""

from __future__ import annotations


class Budget:
    def __init__(self) -> None:
        self._used: dict[str, int] = {}

    def take(self, kind: str, n: int, limit: int) -> bool:
        """Count ``n`` more of ``kind``; False once more than ``limit`` were counted in all."""
        used = self._used.get(kind, 0) + n
        self._used[kind] = used
        return used <= limit
