"""SpecError: one invalid field of a custom resource, named by its path, with a message that says the fix."""

from __future__ import annotations

import json


class SpecError(Exception):
    """A custom resource that cannot be accepted; `field_path` is camelCase as in YAML (`spec.workers.min`)."""

    def __init__(self, field_path: str, message: str, problems: tuple[tuple[str, str], ...] = ()) -> None:
        self.field_path = field_path
        self.message = message
        # Every problem found, the first one included; a condition shows the first, `fairshare explain` all.
        self.problems = problems or ((field_path, message),)
        super().__init__(field_path, message)

    def __str__(self) -> str:
        more = len(self.problems) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more > 0 else ""
        return f"{self.field_path}: {self.message}{suffix}"


def map_key(key: object) -> str:
    """A map key as a path segment: `[a100]`, or JSON-quoted (`["]0"]`) when the key itself holds a bracket or a
    quote, so the path still reads back to the one key it names."""
    text = str(key)
    return f"[{json.dumps(text)}]" if any(c in text for c in '[]"') else f"[{text}]"
