"""Finding our own error inside the exception Beam re-raises for a failed step.

A DoFn's exception reaches the caller wrapped: the FnApiRunner re-raises a
new exception whose text holds the original's class name and message,
followed by ` [while running 'Step']`. The CLI reports the original message
only. tests/unit/test_beam_errors.py pins the wrapper's text on the Beam
version setup.py installs, so an upgrade that changes it fails loudly.
"""

from __future__ import annotations


def find_error(error: BaseException, kind: type) -> str | None:
    """The message of a `kind` error in `error`'s chain, raised directly or wrapped by Beam."""
    seen = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text, marker = str(current), f"{kind.__name__}: "
        if isinstance(current, kind) or marker in text:
            message = text.split(marker, 1)[-1].splitlines()[0]
            return message.split(" [while running")[0].strip(" '\"[]")
        current = current.__cause__ or current.__context__
    return None
