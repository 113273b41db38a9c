"""The root of every exception fscc raises on purpose.

    FsccError                      anything fscc raises deliberately; has `code` and `exit_code`
    ├── SettingsError              fscc.yaml / FSCC_* environment: names the file, line and key path
    ├── fs_scripts.esl.errors.EslError          the Event Socket (see that module's tree)
    ├── ivr_flows.errors.FlowError              flow templates: FILE:LINE:COL
    ├── acd.errors.AcdError                     routing: names task, worker, reservation ids
    └── crm_sync.errors.CrmSyncError            CDR spool and CRM store

Foreign exceptions (socket, redis, peewee, yaml) are translated at the module that meets
them, with `raise ... from exc`, so callers only ever catch ours. `code` is a stable short
id (for the console and logs); `exit_code` is what the `fscc` command exits with.
"""

from __future__ import annotations


class FsccError(Exception):
    """Base of every deliberate fscc error."""

    code: str = "fscc-error"
    exit_code: int = 1


class SettingsError(FsccError):
    """A bad fscc.yaml or FSCC_* value. Every problem found is listed, each with its key path."""

    code = "bad-settings"
    exit_code = 2

    def __init__(self, problems: list[str], source: str = "fscc.yaml") -> None:
        self.problems = list(problems)
        self.source = source
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{source}: {len(self.problems)} problem(s):\n{lines}")
