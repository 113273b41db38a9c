"""Errors of the CDR spool and the CRM store.

    CrmSyncError (FsccError)
    ├── CdrError            one CDR file cannot be understood: names the file and what is wrong;
    │                       the sync quarantines that file and carries on (exit 1 at the end)
    ├── CrmDatabaseError    the CRM database cannot be opened, migrated or written (exit 2)
    └── SyncConfigError     bad spool / archive / database settings (exit 2, nothing moved)

peewee and OS errors are translated at the module that meets them (`raise ... from exc`).
"""

from __future__ import annotations

from fs_scripts.errors import FsccError


class CrmSyncError(FsccError):
    code = "crm-sync"
    exit_code = 1


class CdrError(CrmSyncError):
    """A CDR file that cannot be parsed. `source` is the file, `reason` what is wrong with it."""

    code = "bad-cdr"
    exit_code = 1

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")


class CrmDatabaseError(CrmSyncError):
    code = "crm-database"
    exit_code = 2


class SyncConfigError(CrmSyncError):
    code = "crm-sync-config"
    exit_code = 2
