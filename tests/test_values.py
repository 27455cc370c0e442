"""Every value dvlin returns is frozen the documented way: FrozenInstanceError, never TypeError."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import dvlin


def _frozen_dataclasses() -> list[type]:
    found: dict[str, type] = {}
    for info in pkgutil.walk_packages(dvlin.__path__, "dvlin."):
        if info.name == "dvlin.__main__":
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and obj.__module__ == info.name
                and dataclasses.is_dataclass(obj)
                and obj.__dataclass_params__.frozen  # type: ignore[attr-defined]
            ):
                found[f"{info.name}.{name}"] = obj
    return [found[k] for k in sorted(found)]


FROZEN = _frozen_dataclasses()


def test_the_walk_finds_the_result_types() -> None:
    names = {c.__name__ for c in FROZEN}
    assert {"Version", "CommitResult", "StatusReport", "CheckoutResult", "ModelVersion"} <= names


@pytest.mark.parametrize("cls", FROZEN, ids=lambda c: f"{c.__module__}.{c.__name__}")
def test_assigning_to_a_field_raises_frozen_instance_error(cls: type) -> None:
    value = cls.__new__(cls)
    for f in dataclasses.fields(cls):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, f.name, None)
        with pytest.raises(dataclasses.FrozenInstanceError):
            delattr(value, f.name)
    with pytest.raises(dataclasses.FrozenInstanceError):
        value.not_a_field = 1  # type: ignore[attr-defined]


def test_a_returned_result(tmp_path: Path) -> None:
    repo = dvlin.Repo.init(tmp_path / "r")
    (repo.root / "d").mkdir()
    (repo.root / "d" / "a.txt").write_text("a")
    result = repo.commit([str(repo.root / "d")])
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.created = False  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.version.message = "changed"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.typo = 1  # type: ignore[attr-defined]
    assert dataclasses.replace(result.version, message="x").message == "x"
    repo.close()
