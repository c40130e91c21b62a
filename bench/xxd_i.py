"""``xxd -i FILE > OUT``, byte for byte, for machines without xxd (Debian package ``xxd``).

    python3 bench/xxd_i.py FILE OUT

The C text is the one xxd 8.x prints: ``unsigned char <name>[] = {``, twelve ``0x%02x`` per line
indented by two spaces, ``};`` and ``unsigned int <name>_len = <size>;``, where <name> is FILE as
given with every character other than a letter or digit turned into ``_`` (and ``__`` put before
a leading digit). Streamed: memory stays flat whatever the size.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HEX = [f"0x{b:02x}" for b in range(256)]
_PER_LINE = 12


def c_name(path: str) -> str:
    name = "".join(c if c.isascii() and c.isalnum() else "_" for c in path)
    return "__" + name if name[:1].isdigit() else name


def xxd_i(src: Path, given: str, out: Path) -> None:
    size = src.stat().st_size
    name = c_name(given)
    with open(src, "rb") as f, open(out, "w", encoding="ascii", newline="\n") as o:
        o.write(f"unsigned char {name}[] = {{\n")
        done = 0
        while True:
            block = f.read(_PER_LINE * 4096)
            if not block:
                break
            lines = []
            for i in range(0, len(block), _PER_LINE):
                chunk = block[i : i + _PER_LINE]
                done += len(chunk)
                text = "  " + ", ".join(_HEX[b] for b in chunk)
                lines.append(text + (",\n" if done < size else "\n"))
            o.write("".join(lines))
        o.write(f"}};\nunsigned int {name}_len = {size};\n")


if __name__ == "__main__":
    xxd_i(Path(sys.argv[1]), Path(sys.argv[1]).name, Path(sys.argv[2]))
