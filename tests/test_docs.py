"""The user guide stays true to the code: links resolve, and every error message the tool (or its
CMake package) can print is documented in docs/troubleshooting.md."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from tests.conftest import doc_block, run_cli
from tests.error_messages import FIELD, _templates_in, error_templates

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
TROUBLESHOOTING = DOCS / "troubleshooting.md"


def _pages() -> list[Path]:
    pages = [REPO / "README.md", REPO / "CONTRIBUTING.md", *sorted(DOCS.glob("*.md"))]
    return [p for p in pages if p.is_file()]


# -- (a) links -------------------------------------------------------------------------------
_FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.M | re.S)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REF_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", re.M)
_HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.M)


def _prose(text: str) -> str:
    """Markdown without code blocks and code spans (links there are not links)."""
    return _CODE_SPAN.sub("", _FENCE.sub("", text))


def anchors(text: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to '-', '-1' etc.
    for repeats."""
    seen: dict[str, int] = {}
    out = set()
    for m in _HEADING.finditer(_FENCE.sub("", text)):
        title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", m.group(1))  # a link's text
        # HTML tags are dropped, but `<x>` inside a code span is text.
        parts = re.split(r"(`[^`]*`)", title)
        title = "".join(p[1:-1] if p.startswith("`") else re.sub(r"<[^>]+>", "", p) for p in parts)
        slug = re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def broken_links(page: Path) -> list[str]:
    text = page.read_text(encoding="utf-8")
    problems = []
    prose = _prose(text)
    for m in [*_LINK.finditer(prose), *_REF_DEF.finditer(prose)]:
        target = m.group(1)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto:
            continue
        path_part, _, anchor = target.partition("#")
        dest = (page.parent / path_part).resolve() if path_part else page
        line = text.count("\n", 0, text.find(m.group(0))) + 1
        where = f"{page.relative_to(REPO)}:{line}: {target}"
        if REPO not in dest.parents and dest != REPO:
            problems.append(f"{where}: points outside the repository")
        elif not dest.exists():
            problems.append(f"{where}: {dest.relative_to(REPO)} does not exist")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest.read_text(encoding="utf-8")):
            problems.append(f"{where}: no heading #{anchor} in {dest.relative_to(REPO)}")
    return problems


def test_relative_links_resolve() -> None:
    pages = _pages()
    assert REPO / "CONTRIBUTING.md" in pages and TROUBLESHOOTING in pages
    problems = [p for page in pages for p in broken_links(page)]
    assert not problems, "broken links:\n" + "\n".join(problems)


def test_anchor_slugs() -> None:
    text = "# A `b` c\n## Plain Make, or any other build\n## A `b` c\n```\n# not a heading\n```\n"
    assert anchors(text) == {"a-b-c", "plain-make-or-any-other-build", "a-b-c-1"}
    assert anchors("### `SECTION <s>` / `X|y` <br>\n") == {"section-s--xy"}


# -- (b) error messages ----------------------------------------------------------------------
def _doc_text() -> str:
    # A '|' inside a table cell is written '\|'.
    return TROUBLESHOOTING.read_text(encoding="utf-8").replace("\\|", "|")


def template_regex(template: str, field: str = FIELD) -> re.Pattern[str]:
    """A template's literal parts in order, each field matching a <placeholder> or any text
    on the same line outside a code span's backticks (so a message written as `code` matches
    within its span); runs of whitespace match any whitespace."""

    def literal(part: str) -> str:
        return "".join(r"\s+" if s.isspace() else re.escape(s) for s in re.split(r"(\s+)", part) if s)

    return re.compile(r"(?:<[^<>\n`]*>|[^\n`]*?)".join(literal(p) for p in template.split(field)))


def test_every_error_message_is_documented() -> None:
    templates = error_templates()
    assert len(templates) > 140  # the extractor still finds them
    doc = _doc_text()
    missing = [f"{file}:{line}: {t}" for file, line, t in templates if not template_regex(t).search(doc)]
    assert not missing, (
        f"error messages missing from {TROUBLESHOOTING.relative_to(REPO)} (write each with its cause "
        "and fix; fields as <placeholders>):\n" + "\n".join(missing)
    )


def test_extractor(tmp_path: Path) -> None:
    """The extractor's cases: literals, f-strings, concatenations with non-literal parts, helper
    functions returning messages, single-argument exception types; wrappers are skipped."""
    src = tmp_path / "m.py"
    src.write_text(
        "def _msg(x):\n"
        "    if x:\n"
        "        return f'has {x} things'\n"
        "    return 'has nothing'\n"
        "def f(where, over, exc, problem):\n"
        "    raise MlfError(where, 'plain')\n"
        "    raise MlfError(where, f'needs {over} bytes ' + 'more')\n"
        "    raise MlfError(where, 'needs ' + ' and '.join(over))\n"
        "    raise MlfError(where, _msg(over))\n"
        "    raise MlfError(where, str(exc))\n"
        "    raise MlfError(where, problem)\n"
        "    raise c.fail('version', f'bad {over}')\n"
        "    raise _Refused(f'chains {over}')\n"
        "    raise argparse.ArgumentTypeError(f'{over!r} is not a count')\n"
    )
    assert [t for _, t in _templates_in(src)] == [
        "plain",
        "needs {...} bytes more",
        "needs {...}",
        "has {...} things",
        "has nothing",
        "bad {...}",
        "chains {...}",
        "{...} is not a count",
    ]


def test_template_regex() -> None:
    rx = template_regex("module {...} has no parameters/{...}.params")
    assert rx.search("| `module <m> has no parameters/<m>.params` | ... |")
    assert rx.search("module 'default' has no parameters/default.params")
    assert not rx.search("module <m> has no parameters")
    assert not rx.search("`module <m> has no code` and `parameters/<m>.params`")


# -- (c) CMake messages ----------------------------------------------------------------------
_MESSAGE = re.compile(r"\bmessage\(\s*(FATAL_ERROR|WARNING)\s+((?:\"(?:[^\"\\]|\\.)*\"\s*)+)\)", re.S)
_QUOTED = re.compile(r"\"((?:[^\"\\]|\\.)*)\"")


_ANY_MESSAGE = re.compile(r"\bmessage\(\s*(FATAL_ERROR|SEND_ERROR|WARNING|AUTHOR_WARNING)\b")


def cmake_messages() -> list[tuple[str, int, str]]:
    """(file, line, template) of the FATAL_ERROR and WARNING messages of cmake/ and the Zephyr
    module: the quoted arguments joined (as message() does), ${...} as fields, cut at the first
    \\n escape."""
    out = []
    paths = [
        *sorted((REPO / "cmake").rglob("*.cmake")),
        REPO / "zephyr" / "CMakeLists.txt",
        *sorted((REPO / "zephyr").glob("*.cmake")),
    ]
    for path in paths:
        text = path.read_text(encoding="utf-8")
        found = list(_MESSAGE.finditer(text))
        # A message this parser cannot read (unquoted arguments, SEND_ERROR) must not go unseen.
        assert len(found) == len(_ANY_MESSAGE.findall(text)), f"{path}: a message() this test cannot parse"
        for m in found:
            raw = "".join(_QUOTED.findall(m.group(2)))
            raw = raw.split("\\n", 1)[0].replace('\\"', '"').replace("\\\\", "\\")
            template = re.sub(r"\$\{[^}]*\}", FIELD, raw)
            line = text.count("\n", 0, m.start()) + 1
            out.append((path.relative_to(REPO).as_posix(), line, template))
    return out


def test_cmake_messages_are_documented() -> None:
    messages = cmake_messages()
    files = {f for f, _, _ in messages}
    assert {"cmake/MLFLibrary.cmake", "cmake/MLFPython.cmake", "zephyr/CMakeLists.txt"} <= files
    doc = _doc_text()
    missing = [f"{file}:{line}: {t}" for file, line, t in messages if not template_regex(t).search(doc)]
    where = TROUBLESHOOTING.relative_to(REPO)
    assert not missing, f"CMake messages missing from {where}:\n" + "\n".join(missing)


def test_worked_example_header_is_what_the_generator_writes(tmp_path: Path) -> None:
    text = (DOCS / "header.md").read_text(encoding="utf-8")
    shown = re.search(r"its header is:\n\n```c\n(.*?)```\n", text, re.S)
    assert shown, "docs/header.md: the worked example's header block moved"
    model = REPO / "examples" / "model" / "waveform.tar"
    assert run_cli(["generate", model, "--name", "waveform", "--out", tmp_path]).code == 0
    assert shown.group(1) == (tmp_path / "waveform.h").read_text(), "regenerate the block in docs/header.md"


def _is_part_of(shown: object, real: object, where: str = "$") -> list[str]:
    """Where the abridged JSON ``shown`` differs from ``real``: dicts may leave keys out,
    lists may leave out trailing entries, every value shown must be the real one."""
    if isinstance(shown, dict) and isinstance(real, dict):
        return [
            d
            for k, v in shown.items()
            for d in (
                [f"{where}.{k}: not in the real output"]
                if k not in real
                else _is_part_of(v, real[k], f"{where}.{k}")
            )
        ]
    if isinstance(shown, list) and isinstance(real, list) and len(shown) <= len(real):
        return [d for i, v in enumerate(shown) for d in _is_part_of(v, real[i], f"{where}[{i}]")]
    return [] if shown == real else [f"{where}: shows {shown!r}, the real output has {real!r}"]


# -- (d) inspect's JSON as the guide shows it --------------------------------------------------
def _inspect_example(*options: str) -> str:
    """What `mlf-build inspect examples/model/waveform.tar [options]` prints, run in the
    repository: the command line the guide shows, so that paths print the same."""
    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        res = run_cli(["inspect", "examples/model/waveform.tar", *options])
    finally:
        os.chdir(cwd)
    assert res.code == 0, res.err
    return res.out


def _example_inspect() -> object:
    return json.loads(_inspect_example("--json"))


def _json_block(page: Path, after: str) -> object:
    return json.loads(doc_block(page, after, "json"))


def test_readme_inspect_example_is_the_real_output() -> None:
    """The README shows the example's output abridged: each value it shows is the real one."""
    shown, real = _json_block(REPO / "README.md", "## The model description"), _example_inspect()
    assert _is_part_of(shown, real) == []
    assert _is_part_of({"modules": [{"arena": {"bytes": 1}}]}, real) != []  # the check can fail


def test_inspect_schema_example_is_the_real_output() -> None:
    shown = _json_block(DOCS / "inspect-schema.md", "## Example")
    assert shown == _example_inspect(), "paste the new output into docs/inspect-schema.md's example"


def test_cli_inspect_text_example_is_the_real_output() -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    shown = re.search(r"\$ mlf-build inspect examples/model/waveform.tar\n(.*?)```\n", text, re.S)
    assert shown, "docs/cli.md: the inspect example moved"
    assert shown.group(1) == _inspect_example(), "paste the new output into docs/cli.md's inspect example"
