"""Every error message mlf-build can print, read from the source with the ast module, as a
template whose f-string fields (and any other non-literal part) are ``{...}``.

Collected:

- the problem argument of each ``MlfError(where, problem)``, and of ``c.fail(path, problem)`` in
  metadata.py (the wrapper ``_Ctx.fail`` itself is covered by its call sites);
- the message of each ``_Refused(message)`` in archive.py (re-raised as ``MlfError(path,
  str(exc))``, which is covered here) and of ``argparse.ArgumentTypeError(message)`` in options.py;
- a message that is a concatenation with non-literal parts (``"..." + " and ".join(over)``):
  each non-literal part becomes ``{...}``;
- a message returned by a helper function of the same file (``MlfError(src.path,
  _missing_metadata_message(src))``): every string template the helper returns.

Run ``python tests/error_messages.py`` to list them as ``file:line: template``.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "mlf_build"
FIELD = "{...}"

# Callable name -> index of the message argument.
_MESSAGE_ARG = {"MlfError": 1, "fail": 1, "_Refused": 0, "ArgumentTypeError": 0}


def _template(node: ast.expr) -> str | None:
    """The template of a string expression; None when it has no literal part at all."""
    parts = _parts(node)
    if parts is None or not any(literal for literal, is_field in parts if not is_field):
        return None
    return "".join(FIELD if is_field else text for text, is_field in parts)


def _parts(node: ast.expr) -> list[tuple[str, bool]] | None:
    """(text, is_field) pieces of a string built from literals, f-strings and ``+``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [(node.value, False)]
    if isinstance(node, ast.JoinedStr):
        out = []
        for v in node.values:
            if isinstance(v, ast.Constant) and isinstance(v.value, str):
                out.append((v.value, False))
            else:
                out.append(("", True))
        return out
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _parts(node.left), _parts(node.right)
        # A non-literal operand of a concatenation is a placeholder.
        return (left if left is not None else [("", True)]) + (right if right is not None else [("", True)])
    return None


def _call_name(call: ast.Call) -> str:
    f = call.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""


def _helper_returns(func: ast.FunctionDef) -> list[tuple[int, str]]:
    """(line, template) of every string a helper function returns (not counting nested defs)."""
    out: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                continue
            if isinstance(child, ast.Return) and child.value is not None:
                t = _template(child.value)
                if t is not None:
                    out.append((child.lineno, t))
            visit(child)

    visit(func)
    return out


def _templates_in(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    helpers = {n.name: n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        index = _MESSAGE_ARG.get(_call_name(node))
        if index is None or len(node.args) <= index:
            continue
        arg = node.args[index]
        t = _template(arg)
        if t is not None:
            out.append((node.lineno, t))
        elif isinstance(arg, ast.Call) and isinstance(arg.func, ast.Name) and arg.func.id in helpers:
            out += _helper_returns(helpers[arg.func.id])
    return out


def error_templates() -> list[tuple[str, int, str]]:
    """(file, line, template) of every error message with a literal part."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).as_posix()
        out += [(rel, line, t) for line, t in _templates_in(path)]
    return out


if __name__ == "__main__":
    for file, line, t in error_templates():
        print(f"{file}:{line}: {t}")
