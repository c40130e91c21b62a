"""validate.py: the exact forms of what the checks return (tests/test_validate.py runs CMake and
objcopy on them; these pin the forms down without tools)."""

from __future__ import annotations

import pytest

from mlf_build.errors import MlfError
from mlf_build.validate import cmake_quote, file_name, is_c_identifier, objcopy_arg, relative_path


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("plain", b"[=[plain]=]"),
        ("ends in ]=", b"[==[ends in ]=]==]"),  # ']=]' would close a level-1 bracket early
        ("]=]", b"[==[]=]]==]"),
        ("\nlead", b"[=[\n\nlead]=]"),  # CMake drops a newline right after the opening bracket
        ("a\r\nb$", b'"a\\r\\nb\\$"'),  # brackets drop a CR: a quoted argument instead
    ],
)
def test_cmake_quote_forms(value: str, quoted: bytes) -> None:
    assert cmake_quote(value) == quoted


def test_objcopy_arg_escapes_what_the_response_file_parser_splits_on() -> None:
    assert objcopy_arg("--rename-section=.a b='x'\\") == "--rename-section=.a\\ b=\\'x\\'\\\\"
    assert objcopy_arg("--keep-global-symbols=net.syms") == "--keep-global-symbols=net.syms"


def test_relative_path_checks_every_component() -> None:
    assert relative_path("codegen/src/default_lib1.c", "w") == "codegen/src/default_lib1.c"
    with pytest.raises(MlfError, match="has a file name a build cannot use \\('\\.\\.'"):
        relative_path("codegen/../x.c", "w")
    with pytest.raises(MlfError, match="a file name longer than 255 bytes"):
        file_name("é" * 128, "w")  # 256 bytes of UTF-8 in 128 characters


def test_identifier_parts_may_be_keywords() -> None:
    # A module named "default" gives tvmgen_default_run: the part is a keyword, the name is not.
    assert is_c_identifier("default", part=True)
    assert not is_c_identifier("default")
    assert not is_c_identifier("d\u00e9fault", part=True)  # ASCII only, whatever Python's \w says
