"""SpecError: one invalid field of a custom resource, named by its path, with a message that says the fix."""

from __future__ import annotations


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
