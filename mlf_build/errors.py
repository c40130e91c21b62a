"""The tool's one error type: a file and a problem, printed as one line, never a traceback."""

from __future__ import annotations

import os


class MlfError(Exception):
    """Bad or unsupported input. ``where`` names the file (``model.tar(metadata.json)`` for a
    member of an archive), ``problem`` says what is wrong with it in one sentence."""

    def __init__(self, where: str | os.PathLike[str], problem: str) -> None:
        self.where = os.fspath(where)
        # One line, whatever a hostile input put in the message.
        self.problem = " ".join(problem.split())
        super().__init__(f"{self.where}: {self.problem}")


def member_display(archive: str | os.PathLike[str], member: str) -> str:
    """How a member of an MLF is named in messages, after ar(1): ``archive(member)``."""
    return f"{os.fspath(archive)}({member})"


def printable(text: str, limit: int = 80) -> str:
    """A name from the input made safe to print on one line."""
    out = "".join(c if c.isprintable() and c not in "\r\n" else "?" for c in text)
    return out if len(out) <= limit else out[: limit - 3] + "..."
