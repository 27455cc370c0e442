"""Random sequences of commit / checkout / gc / Ctrl-C never lose a file dvlin was not told to.

A seeded driver (replayable: the failing seed and step are in the assertion message) runs
commits of random trees, checkouts with and without ``--force`` into the asset's folder, into
new folders and into hostile ones (``.dvlin``, the store, the repo, its parent, a folder with
planted files), gc under random retention, user edits, and Ctrl-C at random points of commits
and checkouts. After every step:

- no planted file (a path no version tracked) and nothing outside the targets changed;
- a checkout that went through left its target equal to the version, byte for byte;
- every file in a target is whole: the bytes some version or some user edit gave that path.

At the end every version that retention kept checks out byte for byte and fsck is clean.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
from pathlib import Path

import pytest

from dvlin import Repo
from dvlin.errors import ConflictError, UsageError
from dvlin.ops import gc
from dvlin.ops.fsck import fsck
from tests.conftest import snapshot

NAMES = ["a.txt", "b.bin", "sub/c.txt", "sub/d.bin", "sub/deep/e.txt", "f.txt", "g/h.txt"]
Tree = dict[str, tuple[str, object, bool]]


class CtrlC:
    """A progress that raises KeyboardInterrupt after ``n`` files, as Ctrl-C would."""

    def __init__(self, n: int) -> None:
        self.left = n

    def start(self, label: str, *, files: int | None = None, bytes: int | None = None) -> None:
        if self.left <= 0:
            raise KeyboardInterrupt

    def advance(self, *, files: int = 0, bytes: int = 0) -> None:
        self.left -= files
        if self.left <= 0:
            raise KeyboardInterrupt

    def finish(self) -> None:
        pass


def _digest(root: Path) -> dict[str, str]:
    """Hash of every file under ``root`` except the catalog's own (SQLite rewrites those)."""
    found = {}
    for folder, _, files in os.walk(root):
        for name in files:
            full = Path(folder) / name
            if not name.startswith(("catalog.db", "lock")) and not full.is_symlink():
                found[str(full)] = hashlib.sha256(full.read_bytes()).hexdigest()
    return found


class Driver:
    """The model: versions and their trees, planted files, and what each target should hold."""

    def __init__(self, repo: Repo, seed: int) -> None:
        self.repo = repo
        self.rng = random.Random(seed)
        self.seed = seed
        self.step = 0
        self.work = repo.root / "d"
        self.work.mkdir()
        self.parent = repo.root.parent
        self.versions: dict[int, Tree] = {}
        self.expired: set[int] = set()
        self.seen: dict[str, set[object]] = {}
        """Every content each relative path ever had: versions and user edits."""
        self.planted: dict[Path, bytes] = {}
        self.targets: list[Path] = [self.work]
        self.pending: set[Path] = set()
        self.counter = 0
        # Things no checkout may ever touch: a sibling .git, a virtualenv, the repo's own files.
        for rel, data in {
            ".git/HEAD": b"ref: main",
            "venv/bin/python": b"#!",
            "repo/notes.txt": b"not data",
            "repo/other/x.txt": b"another asset",
        }.items():
            (self.parent / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.parent / rel).write_bytes(data)
            self.planted[self.parent / rel] = data
        self.dvlin_files = _digest(repo.dvlin_dir / "objects")

    def where(self) -> str:
        return f"seed {self.seed}, step {self.step}"

    # -- operations -----------------------------------------------------------------------

    def edit_tree(self) -> None:
        for name in self.rng.sample(NAMES, self.rng.randint(1, 4)):
            path = self.work / name
            if self.rng.random() < 0.25:
                if path.is_file():
                    path.unlink()
                continue
            if any(p.is_file() for p in [*path.parents][: name.count("/")]):
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.is_dir():
                continue
            size = self.rng.choice([0, 5, 1024, 200_000])
            data = self.rng.randbytes(size)
            path.write_bytes(data)
            self.seen.setdefault(name, set()).add(data)

    def plant(self, folder: Path) -> None:
        self.counter += 1
        rel = (
            f"mine-{self.counter}/thesis.tex" if self.rng.random() < 0.5 else f"mine-{self.counter}"
        )
        data = f"planted {self.counter}".encode()
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
        self.planted[folder / rel] = data

    def commit(self) -> None:
        interrupt = self.rng.random() < 0.2
        progress = CtrlC(self.rng.randint(0, 3)) if interrupt else None
        try:
            result = self.repo.commit(["d"], name="d", progress=progress)
        except KeyboardInterrupt:
            return
        except ConflictError:
            assert self.work in self.pending, (
                f"commit refused without a pending checkout, {self.where()}"
            )
            return
        assert self.work not in self.pending, f"commit of a half checkout, {self.where()}"
        tree = snapshot(self.work)
        if result.created:
            self.versions[result.version.number] = tree
        # What the asset's folder held is now tracked: no longer a planted stranger.
        for path in [p for p in self.planted if self.work in p.parents]:
            del self.planted[path]
        for rel, (_kind, data, _) in tree.items():
            self.seen.setdefault(rel, set()).add(data)

    def checkout(self) -> None:
        live = sorted(set(self.versions) - self.expired)
        if not live:
            return
        number = self.rng.choice(live)
        force = self.rng.random() < 0.5
        interrupt = self.rng.random() < 0.25
        progress = CtrlC(self.rng.randint(0, 4)) if interrupt else None
        kind = self.rng.choice(["here", "here", "new", "old", "old", "planted", "hostile"])
        to: Path | None = None
        if kind == "new":
            self.counter += 1
            to = self.parent / f"out-{self.counter}"
        elif kind == "old":
            to = self.rng.choice(self.targets)
        elif kind == "planted":
            to = self.rng.choice(self.targets)
            self.plant(to)
        elif kind == "hostile":
            to = self.rng.choice(
                [
                    self.repo.dvlin_dir,
                    self.repo.dvlin_dir / "objects",
                    self.repo.dvlin_dir / "objects" / "zz",
                    self.repo.root,
                    self.parent,
                ]
            )
        target = self.work if to is None or to == self.work else to
        before = snapshot(target) if target.exists() else None
        try:
            self.repo.checkout(
                f"d@v{number}",
                to=None if target == self.work else target,
                force=force,
                progress=progress,
            )
        except UsageError:
            assert kind == "hostile", f"refused a fair target {target}, {self.where()}"
            return
        except ConflictError:
            assert (snapshot(target) if target.exists() else None) == before, self.where()
            return
        except KeyboardInterrupt:
            assert kind != "hostile", self.where()
            if target.exists() and target not in self.targets:
                self.targets.append(target)
            if before != self.versions[number]:  # a checkout with nothing to change is no risk
                self.pending.add(target)
            self._whole(target)
            return
        assert kind != "hostile", f"checked out into {target}, {self.where()}"
        if target not in self.targets:
            self.targets.append(target)
        self.pending.discard(target)
        assert snapshot(target) == self.versions[number], f"{target} != v{number}, {self.where()}"

    def user_edit(self) -> None:
        files = [p for p in self.work.rglob("*") if p.is_file() and p not in self.planted]
        if files:
            path = self.rng.choice(files)
            data = f"user edit {self.rng.random()}".encode()
            path.write_bytes(data)
            self.seen.setdefault(path.relative_to(self.work).as_posix(), set()).add(data)

    def gc(self) -> None:
        keep = self.rng.choice([None, 1, 2, 3])
        policy = self.repo.root / "dvlin.toml"
        if keep is None:
            policy.unlink(missing_ok=True)
        else:
            policy.write_text(f"[retention]\nkeep_last = {keep}\n")
        plan = gc.apply(self.repo)
        self.expired |= {v.number for v in plan.versions}
        self.dvlin_files = _digest(self.repo.dvlin_dir / "objects")  # gc may delete objects

    # -- invariants -----------------------------------------------------------------------

    def _whole(self, target: Path) -> None:
        for rel, (kind, data, _) in snapshot(target).items():
            full = target / rel
            if kind == "file" and full not in self.planted:
                assert data in self.seen.get(rel, set()), f"torn {full}, {self.where()}"

    def check(self) -> None:
        for path, data in self.planted.items():
            assert path.is_file() and path.read_bytes() == data, f"lost {path}, {self.where()}"
        # The store only grows, except by gc.
        now = _digest(self.repo.dvlin_dir / "objects")
        assert all(now.get(k) == v for k, v in self.dvlin_files.items()), self.where()
        self.dvlin_files = now
        for target in self.targets:
            if target.exists():
                self._whole(target)

    def finish(self) -> None:
        report = fsck(self.repo)
        assert report.ok, (report.to_dict(), self.where())
        for number, tree in self.versions.items():
            if number in self.expired:
                continue
            out = self.parent / f"final-{number}"
            self.repo.checkout(f"d@v{number}", to=out)
            assert snapshot(out) == tree, f"v{number} lost bytes, {self.where()}"
            shutil.rmtree(out)


def _run(repo: Repo, seed: int, steps: int) -> None:
    driver = Driver(repo, seed)
    driver.edit_tree()
    driver.commit()
    ops = [
        (driver.edit_tree, 3),
        (driver.commit, 3),
        (driver.checkout, 6),
        (driver.user_edit, 1),
        (lambda: driver.plant(driver.work), 1),
        (driver.gc, 1),
    ]
    funcs, weights = zip(*ops, strict=True)
    for driver.step in range(1, steps + 1):
        driver.rng.choices(funcs, weights)[0]()
        driver.check()
        if driver.step % 10 == 0 and driver.pending:
            # Finish what was interrupted so commits get through again.
            for target in sorted(driver.pending):
                live = sorted(set(driver.versions) - driver.expired)
                number = driver.rng.choice(live)
                try:
                    repo.checkout(
                        f"d@v{number}", to=None if target == driver.work else target, force=True
                    )
                except ConflictError:
                    continue  # files planted there since: refused, still pending
                assert snapshot(target) == driver.versions[number], driver.where()
                driver.pending.discard(target)
    driver.finish()


@pytest.mark.parametrize("seed", range(4))
def test_random_histories_never_lose_data(repo: Repo, seed: int) -> None:
    _run(repo, seed, steps=45)
