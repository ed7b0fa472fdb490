"""The one error type users see: where it happened, what is wrong, and how to fix it."""

from __future__ import annotations


class MicroMLError(Exception):
    """A user-facing failure that names the file, the key (or line) and the fix.

    Every failure a user can cause (bad yaml, bad dataset, a broken training
    script, a model that does not fit) is raised as this, so the CLI and the
    build hooks can print one clear message and exit non-zero.
    """

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None,
                 fix: str | None = None, details: str | None = None):
        self.message = message
        self.file = file
        self.key = key
        self.fix = fix
        self.details = details
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ": ".join(part for part in (self.file, self.key) if part)
        text = f"{where}: {self.message}" if where else self.message
        if self.fix:
            text += f"\n  fix: {self.fix}"
        if self.details:
            text += "\n" + self.details.rstrip()
        return text

