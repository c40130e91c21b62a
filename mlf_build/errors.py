"""The tool's one error type: a file and a problem, printed as one line, never a traceback."""

from __future__ import annotations

import os
import re

#: Control characters: C0, DEL, C1 and the Unicode line and paragraph separators. A terminal
#: acts on them (ESC starts a sequence; NEL, U+2028 and U+2029 break lines in some viewers).
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class MlfError(Exception):
    """Bad or unsupported input. ``where`` names the file (``model.tar(metadata.json)`` for a
    member of an archive), ``problem`` says what is wrong with it in one sentence."""

    def __init__(self, where: str | os.PathLike[str], problem: str) -> None:
        # One printable line, whatever a hostile input (or a path) put in the message.
        self.where = one_line(os.fspath(where))
        self.problem = one_line(" ".join(problem.split()))
        super().__init__(f"{self.where}: {self.problem}")


def member_display(archive: str | os.PathLike[str], member: str) -> str:
    """How a member of an MLF is named in messages, after ar(1): ``archive(member)``."""
    return f"{os.fspath(archive)}({member})"


def one_line(text: str) -> str:
    """``text`` with every character a terminal would not print as itself replaced by '?':
    control characters, line breaks, and bytes of a path that were not valid in the file
    system's encoding (surrogate escapes)."""
    return "".join(c if c.isprintable() else "?" for c in text)


def has_control(text: str) -> bool:
    return CONTROL.search(text) is not None


def printable(text: str, limit: int = 80) -> str:
    """A name from the input made safe to print on one line."""
    out = one_line(text)
    return out if len(out) <= limit else out[: limit - 3] + "..."
