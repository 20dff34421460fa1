"""Griffe extension for the API pages: the few reStructuredText habits of camrobust's docstrings
read as Markdown.

- roles: ``:func:`x` `` and ``:class:`~a.b` `` become inline code (``x``, ``a.b``);
- literal blocks: a paragraph ending in ``::`` ends in ``:`` (its indented block is already a
  Markdown code block), a line holding only ``::`` goes;
- simple tables (``=====  =====`` borders) are kept as preformatted text, aligned as written.

mkdocs.yml loads it with ``extensions: [docs/griffe_rst.py]`` under the python handler's options.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")
BORDER = re.compile(r"^\s*=+( +=+)+\s*$")


def rst_to_markdown(text: str) -> str:
    """A docstring's reStructuredText roles, literal-block markers and simple tables as Markdown."""
    text = ROLE.sub(r"`\1`", text)
    lines: list[str] = []
    source = text.split("\n")
    index = 0
    while index < len(source):
        line = source[index]
        if BORDER.match(line):
            end = index
            while end + 1 < len(source) and source[end + 1].strip():
                end += 1
            indent = min(len(row) - len(row.lstrip()) for row in source[index : end + 1])
            lines += ["```text", *(row[indent:] for row in source[index : end + 1]), "```"]
            index = end + 1
            continue
        if line.strip() == "::":
            index += 1
            continue
        lines.append(line[:-1] if line.endswith("::") else line)
        index += 1
    return "\n".join(lines)


class RstToMarkdown(griffe.Extension):
    """Rewrites each docstring once, when griffe creates its object."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rst_to_markdown(obj.docstring.value)
