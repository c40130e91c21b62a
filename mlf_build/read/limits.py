"""What reading one archive may cost in things looked at one by one (C tokens, JSON values, ELF
entries): a count per kind, shared by the readers of all its members, so that an archive of
many members cannot multiply the bound of one. Each reader names its kind and limit and
reports going over it in its own words. (Bytes are bounded where members are read:
``MlfSource.read_bytes``.)"""

from __future__ import annotations

import sys


class Budget:
    def __init__(self) -> None:
        self._used: dict[str, int] = {}

    def take(self, kind: str, n: int, limit: int) -> bool:
        """Count ``n`` more of ``kind``; False once more than ``limit`` were counted in all."""
        used = self._used.get(kind, 0) + n
        self._used[kind] = used
        return used <= limit


# A quoted literal ("..." in C and Relay text) as a regular expression that takes memory
# independent of the literal's length: Python's `(?:\\.|[^"\\])*` keeps a backtracking frame per
# character (a 100-million-character C string literal, 150 kB as .tar.gz, took 2.8 GB). From
# Python 3.11 the possessive form keeps none; 3.10 has no possessive quantifiers, and its
# unrolled form is flat for plain characters but still keeps one frame per escape.
_POSSESSIVE = "+" if sys.version_info >= (3, 11) else ""


def literal_body(quote: str, stop: str = "\n") -> str:
    """The body of a literal opened by ``quote`` (not included): characters other than the
    quote, a backslash or ``stop``, and backslash escapes of any character (re.S)."""
    plain = f"[^{quote}\\\\{stop}]*{_POSSESSIVE}"
    return f"{plain}(?:\\\\.{plain})*{_POSSESSIVE}"
