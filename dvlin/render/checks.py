"""Tables of rule results, for ``dvlin check``, a refused commit and ``dvlin show``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from dvlin.render.text import quote

if TYPE_CHECKING:
    from rich.table import Table


class ShownResult(Protocol):
    """What a row of the table needs from a rule result (:class:`dvlin.policy.RuleResult`)."""

    @property
    def rule(self) -> str: ...
    @property
    def column(self) -> str | None: ...
    @property
    def file(self) -> str | None: ...
    @property
    def expected(self) -> str: ...
    @property
    def found(self) -> str: ...
    @property
    def passed(self) -> bool: ...


def results_table(results: Sequence[ShownResult], *, status: bool = True) -> Table:
    """Rule, column, expected and found per result (with ✓/✗ when ``status``)."""
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False, show_edge=False)
    if status:
        table.add_column("")
    for col in ("rule", "column", "expected", "found"):
        table.add_column(col, overflow="fold")
    for r in results:
        column = quote(r.column) if r.column else "—"
        if r.file and not r.column and r.rule in ("readable", "required_files"):
            column = quote(r.file)
        row = [r.rule, column, quote(r.expected), quote(r.found)]
        if status:
            mark = Text("✓", style="green") if r.passed else Text("✗", style="red")
            table.add_row(mark, *row)
        else:
            table.add_row(*row)
    return table
