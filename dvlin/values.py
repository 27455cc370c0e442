"""Helpers for dvlin's values: frozen, slotted dataclasses that refuse every change the same way."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from typing import Any, TypeVar

T = TypeVar("T", bound=type)


def _refuse_set(self: Any, name: str, value: object) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r} of {type(self).__name__}")


def _refuse_delete(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r} of {type(self).__name__}")


def sealed(cls: T) -> T:
    """Make any assignment to (or deletion from) a frozen dataclass raise FrozenInstanceError.

    Put it above ``@dataclass(frozen=True, slots=True)``. On Python 3.11 the ``__setattr__``
    that dataclasses writes for a frozen class is bound to the class as it was *before*
    ``slots=True`` replaced it, so setting any name that is not a field ends in
    ``super(cls, self)`` on the wrong class: ``TypeError: super(type, obj): obj must be an
    instance or subtype of type`` instead of the documented ``FrozenInstanceError``. (A method
    of the class calling ``super()`` with no arguments fails the same way.) dataclasses
    itself builds instances through ``object.__setattr__``, so refusing here changes nothing
    else.
    """
    setattr(cls, "__setattr__", _refuse_set)  # noqa: B010 - mypy refuses a method assignment
    setattr(cls, "__delattr__", _refuse_delete)  # noqa: B010
    return cls
