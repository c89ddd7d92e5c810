"""Griffe extension: the Sphinx conventions of the code's docstrings, for MkDocs.

The docstrings refer to other objects with Sphinx roles (``:class:`Space```,
``:meth:`ask```, ``:func:`~pkg.mod.name```) and introduce literal blocks with ``::``;
MkDocs renders Markdown, which would show both as written. This turns each role into inline
code of its target (for a ``~`` target, its last component, as Sphinx shows it), and each
``::`` that ends a paragraph into ``:`` (or nothing, where it stands apart), leaving the
indented block after it, which Markdown renders as code.

Attributes and constants are documented, as Sphinx's autodoc reads them, by ``#:`` comments
on the lines just above them; griffe reads only string docstrings, so this makes those
comments the attributes' docstrings.
"""

from __future__ import annotations

import re
from typing import Any

from griffe import Attribute, Docstring, Extension, Object

#: a role, and the escaped space reST needs before a suffix (":class:`Job`\\ s")
ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|mod|data|exc|obj|const|type):`(~?)([^`]+)`(?:\\ )?")
#: "text::" (→ "text:") or "text ::" / a line of its own "::" (→ removed) at the end of a line
LITERAL = re.compile(r"([ \t]?)::$", re.MULTILINE)


def _code(match: re.Match[str]) -> str:
    target = match.group(2).strip()
    if match.group(1):
        target = target.rsplit(".", 1)[-1]
    return f"`{target}`"


def markdown(text: str) -> str:
    """``text`` with its roles as inline code and its ``::`` markers as Markdown has them."""
    text = ROLE.sub(_code, text)
    return LITERAL.sub(lambda m: "" if m.group(1) or m.start() == 0 or text[m.start() - 1] == "\n" else ":", text)


def comment_docstring(attr: Attribute) -> str | None:
    """The ``#:`` comment lines just above ``attr``'s first line, without their markers."""
    if attr.lineno is None or attr.parent is None:
        return None
    try:
        lines = attr.lines_collection[attr.filepath]  # type: ignore[index]
    except (KeyError, TypeError):
        return None
    comment: list[str] = []
    index = attr.lineno - 2  # the line above, 0-based
    while index >= 0 and lines[index].strip().startswith("#:"):
        comment.insert(0, lines[index].strip()[2:].strip())
        index -= 1
    return "\n".join(comment) or None


class ReSTRoles(Extension):
    """Rewrites Sphinx roles and literal-block markers for Markdown; reads ``#:`` comments."""

    def on_instance(self, *, obj: Object, **kwargs: Any) -> None:
        if obj.docstring is None and isinstance(obj, Attribute):
            text = comment_docstring(obj)
            if text is not None:
                obj.docstring = Docstring(text, parent=obj)
        if obj.docstring is not None:
            obj.docstring.value = markdown(obj.docstring.value)
