"""The one exception type for failures a user can act on (bad file, bad checkpoint, bad text).

The CLI turns it into exit status 2 and one line on stderr; the app into an ``st.error``.
"""

from __future__ import annotations


class RnnVizError(ValueError):
    """A user-facing error: the message names the file, line or field at fault."""

    def __init__(self, message: str, *, where: str | None = None) -> None:
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)
