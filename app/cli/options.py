"""Command-line options backed by settings: one definition per setting, shared by commands.

Each option overrides one ``Settings`` field, so every command that takes it spells it
the same way, with the same help (the field's description, its variable and its
default) and the same bounds. A command's parameter is named after the field, so its
value goes straight to ``load_settings(**overrides)``; ``None`` (not given) leaves the
environment's value in place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from app.config import Settings, env_name, option_name

F = TypeVar("F", bound=Callable[..., Any])

# Older spellings still accepted.
_ALIASES: dict[str, tuple[str, ...]] = {"log_level": ("--loglevel",)}


def option_names(field: str) -> tuple[str, ...]:
    """The spellings of the option that overrides ``field`` (the first is the main one)."""
    return (option_name(field), *_ALIASES.get(field, ()))


def _param_type(field: str) -> click.ParamType:
    info = Settings.model_fields[field]
    if info.annotation is int:
        low = next((m.ge for m in info.metadata if hasattr(m, "ge")), None)
        high = next((m.le for m in info.metadata if hasattr(m, "le")), None)
        return click.IntRange(min=low, max=high)
    return click.STRING


def setting_help(field: str) -> str:
    """The field's description, then where its default comes from."""
    info = Settings.model_fields[field]
    description = (info.description or field).rstrip(".")
    default = "none" if info.default in (None, "") else str(info.default)
    return f"{description} (default: {env_name(field)}, else {default})."


def setting(field: str) -> Callable[[F], F]:
    """A click option that overrides the setting ``field``; the parameter is ``field``."""
    if field not in Settings.model_fields:
        raise ValueError(f"no setting {field!r}")
    return click.option(
        *option_names(field),
        field,
        type=_param_type(field),
        default=None,
        help=setting_help(field),
    )
