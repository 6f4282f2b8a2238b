"""User mistakes at the command line: one line for people, exit code 2, no traceback.

Commands wrapped in `people_errors` print any `UserMistake` raised below them as
`error: <message>` and exit with code 2.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

import click

from model.errors import UserMistake


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
