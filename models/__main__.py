"""``python -m models``: the models of each logical database and their stored fields, as
the Markdown the README shows (a test keeps the README equal to this output)."""

from __future__ import annotations

import typing

from models import DATABASES
from models.schema import model_info


def _type_name(annotation: object) -> str:
    """The annotation as written, as a code span (a table cell's pipes escaped)."""
    text = getattr(annotation, "__name__", None) if not typing.get_args(annotation) else None
    text = text or str(annotation).replace("typing.", "")
    return "`" + text.replace("|", "\\|") + "`"


def reference() -> str:
    """Markdown: per logical database, each model's table, fields and their storage."""
    lines: list[str] = []
    for database, models in DATABASES.items():
        lines.append(f"**{database}**")
        lines.append("")
        lines.append("| model (table) | fields (stored as): type |")
        lines.append("|---|---|")
        for model in models:
            info = model_info(model)
            fields = ", ".join(
                f"`{f.name}`"
                + (f" (`{f.storage}`)" if f.storage != f.name else "")
                + f": {_type_name(f.annotation)}"
                + (" *indexed*" if f.indexed else "")
                for f in info.fields
                if not f.storage.startswith("_")
            )
            scope = " — tenant-scoped" if info.tenant is not None else ""
            lines.append(f"| `{model.__name__}` (`{info.table}`){scope} | {fields} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    print(reference(), end="")
