"""User mistakes: one line for people, exit code 2, no traceback.

Modules raise a `UserMistake` subclass (a bad config key, a sweep folder that cannot be
resumed, an analysis a design cannot give); commands wrapped in `people_errors` print it
as `error: <message>` and exit with code 2.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

import click


class UserMistake(ValueError):
    """A mistake in what the user gave (a file, a key, a folder); the message is one line."""


class UserError(click.ClickException):
    """Printed as `error: <message>` with exit code 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def people_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn user mistakes raised anywhere below a command into a one-line UserError."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except UserMistake as exc:
            raise UserError(str(exc)) from None

    return wrapper
