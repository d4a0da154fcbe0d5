"""``--help`` in the words of the command line, not of Python: ``--data-dir DIRECTORY``, ``--format
[auto|json|…]``, a flag with no value, instead of typer's ``<Path>``, ``<str>``, ``<bool>``, ``<list[Path]>``.

typer (0.2x) prints each parameter's Python annotation as its type; a user reading ``--help`` wants what to
type. :func:`install` makes every option show a click-style metavar (``TEXT``, ``INTEGER``, ``FILE``,
``DIRECTORY``, or the choices ``[a|b|c]`` of a ``Literal`` or Enum annotation), flags show none, and
arguments are written ``FILES...`` in the usage line. An explicit ``metavar=`` still wins. Options with a
fixed set of values are annotated ``Literal[...]`` or with an Enum, so the parser lists and checks them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, get_args

import typer
from typer import core
from typer._param_types import choice_as_str

_NAMES: dict[Any, str] = {str: "TEXT", int: "INTEGER", float: "FLOAT", datetime: "DATETIME"}
_PATHS = {"file": "FILE", "dir": "DIRECTORY", "path": "PATH"}


def _option_metavar(self: core.TyperOption, ctx: typer.Context) -> str | None:
    """What to type after the option: ``TEXT``, ``FILE``, ``[html|md|pdf]``; nothing for a flag."""
    if self.metavar is not None:
        return self.metavar
    if self.is_flag or self.count:
        return None
    desc = self.type_descriptor
    if desc.is_choice:
        return "[" + "|".join(choice_as_str(c) for c in desc.choices or ()) + "]"
    if desc.is_path:
        return _PATHS.get(desc.path_type, "PATH")
    annotation = get_args(desc.annotation)[0] if desc.is_list else desc.annotation
    return _NAMES.get(annotation, "PATH" if getattr(annotation, "__name__", "") in ("Path", "PosixPath") else "VALUE")


def _argument_type(self: core.TyperArgument, ctx: typer.Context) -> str | None:
    return self.metavar  # the name column already names it (``files...``)


def _argument_usage(self: core.TyperArgument) -> str:
    name = self.metavar or (self.name or "").upper()
    if not self.required:
        name = f"[{name}]"
    return name + ("..." if self.nargs != 1 else "")


def install() -> None:
    """Render every command's help this way (idempotent; call before the app runs)."""
    # typer's own hooks take its vendored click's Context; ours take typer.Context, which is what typer passes
    core.TyperOption.display_type_rich = _option_metavar  # type: ignore[method-assign,assignment]
    core.TyperArgument.display_type_rich = _argument_type  # type: ignore[method-assign,assignment]
    core.TyperArgument._usage_display_name = _argument_usage  # type: ignore[method-assign]


__all__ = ["install"]
