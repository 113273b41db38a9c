"""Every exception the IVR layer raises on purpose.

    FsccError                       (fs_scripts.errors)
    └── FlowError                   anything about a flow; `code`, `exit_code`
        ├── FlowSyntaxError         a template, YAML or schema problem: a list of Problems,
        │                           each FILE:LINE:COL: message, the line IN THE TEMPLATE
        ├── ExpressionError         a branch/set expression that does not parse or evaluate
        └── FlowRuntimeError        the runner met something the flow cannot go on from

Why a list of problems and not the first one: a dialplan author fixes a template in one pass
when `fscc flow lint` shows everything that is wrong with it.
"""

from __future__ import annotations

from dataclasses import dataclass

from fs_scripts.errors import FsccError


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a flow file, placed in the template the author wrote."""

    file: str
    line: int
    column: int
    message: str
    severity: str = "error"  # error | warning

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class FlowError(FsccError):
    """Base of every deliberate error of the IVR layer."""

    code = "flow-error"
    exit_code = 1


class FlowSyntaxError(FlowError):
    """The flow file cannot be turned into a valid Flow; `problems` says every place and why."""

    code = "flow-invalid"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class ExpressionError(FlowError, ValueError):
    """An expression that does not parse (with the column inside the expression) or evaluate."""

    code = "flow-bad-expression"

    def __init__(self, message: str, expression: str = "", column: int = 0) -> None:
        self.message = message
        self.expression = expression
        self.column = column
        where = f" at column {column + 1} of {expression!r}" if expression else ""
        super().__init__(f"{message}{where}")


class FlowRuntimeError(FlowError):
    """A flow cannot continue (unknown flow in a transfer, a port missing for a node)."""

    code = "flow-runtime"
