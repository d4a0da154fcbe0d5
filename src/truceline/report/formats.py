"""The formats a report is written in: kept apart from the renderer so the CLI can offer them without
importing it (and matplotlib with it)."""

from typing import Literal

Format = Literal["html", "md", "pdf"]

__all__ = ["Format"]
