"""Reading and parsing the spool's CDR files, here or in a helper process.

Why a helper process: reading and JSON-parsing a mod_json_cdr file (4-6 KB, about 100
variables, a callflow and an app log) costs as much CPU as writing its leg into the store,
and both are pure Python under one GIL. For a large spool `fscc crm-sync` therefore starts
one helper (`python -m crm_sync.reader`) that reads and parses batch k+1 while this process
writes batch k: on a machine with a second core the two halves overlap.

Why this is as crash-safe as parsing in-process: the helper only reads. It never moves,
writes or locks anything; the sync still commits a batch before moving its files, exactly as
crm_sync/sync.py describes, whoever parsed them. The helper is a fresh interpreter
(subprocess, close_fds), so it inherits neither the spool lock nor the database connection:
a kill -9 of the sync releases the lock at once, and the helper then dies on its own, on
the broken pipe of its next write (it runs at most one batch ahead). If the helper dies or
talks nonsense, the sync parses the rest itself.

Protocol (pickle frames; both ends are this module, so the data is trusted): the sync writes
one frame `(encoded_values, [[path, ...], ...])` and closes the helper's stdin; the helper
answers one frame per batch, a list of `ReadResult`, in order.
"""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from crm_sync.cdr import LegRecord, parse_cdr
from crm_sync.errors import CdrError

logger = logging.getLogger(__name__)

#: spools with at least this many files are parsed in a helper process (when there is a second CPU)
HELPER_MIN_FILES = 2000


class ReadResult(NamedTuple):
    """One spool file: its record, or why it cannot be parsed, or neither (the file is gone)."""

    path: str
    record: LegRecord | None
    error: str | None


def read_file(path: str, *, encoded_values: bool = True) -> ReadResult:
    name = os.path.basename(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        return ReadResult(path, None, None)  # another process (a previous run's last moves) took it
    except OSError as exc:
        return ReadResult(path, None, f"{name}: cannot read: {exc.strerror or exc}")
    try:
        return ReadResult(path, parse_cdr(raw, name, encoded_values=encoded_values), None)
    except CdrError as exc:
        return ReadResult(path, None, str(exc))


def read_batch(paths: Sequence[str], *, encoded_values: bool = True) -> list[ReadResult]:
    return [read_file(p, encoded_values=encoded_values) for p in paths]


class BatchReader:
    """Every batch's results, in order (iterate once): from a helper process when `helper`
    (falling back to this process if it cannot start or fails midway), else parsed here as
    each batch is asked for. The helper starts at once, so it parses the first batch while the
    caller opens the database. Use as a context manager: leaving it stops the helper."""

    def __init__(self, batches: Sequence[Sequence[str]], *, encoded_values: bool = True, helper: bool = False) -> None:
        self.batches = [list(b) for b in batches]
        self.encoded_values = encoded_values
        self.proc: subprocess.Popen | None = None
        self.used_helper = False
        if helper and self.batches:
            try:
                self.proc = _start_helper(self.batches, encoded_values)
                self.used_helper = True
            except _HelperFailed as exc:
                logger.warning("CDR parse helper did not start (%s); parsing in this process", exc)

    def __iter__(self) -> Iterator[list[ReadResult]]:
        done = 0
        if self.proc is not None:
            try:
                for paths in self.batches:
                    yield self._answer(paths)
                    done += 1
            except _HelperFailed as exc:
                logger.warning("CDR parse helper failed after %d of %d batches (%s); parsing the rest here",
                               done, len(self.batches), exc)
            finally:
                self.close()
        for paths in self.batches[done:]:
            yield read_batch(paths, encoded_values=self.encoded_values)

    def _answer(self, paths: list[str]) -> list[ReadResult]:
        try:
            results = pickle.load(self.proc.stdout)
        except Exception as exc:  # EOF, a broken pipe, a truncated or foreign frame: all mean the same
            raise _HelperFailed(f"no answer: {exc!r}") from exc
        if not isinstance(results, list) or [r.path for r in results] != paths:
            raise _HelperFailed("an answer that does not match the batch")
        return results

    def close(self) -> None:
        if self.proc is not None:
            _stop(self.proc)
            self.proc = None

    def __enter__(self) -> BatchReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _HelperFailed(Exception):
    pass


def _start_helper(batches: list[list[str]], encoded_values: bool) -> subprocess.Popen:
    if not sys.executable:
        raise _HelperFailed("no Python interpreter to start")
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    try:
        proc = subprocess.Popen([sys.executable, "-m", "crm_sync.reader"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, env=env, close_fds=True)
    except OSError as exc:
        raise _HelperFailed(f"cannot start: {exc}") from exc
    try:
        # the helper reads the whole request before it answers, so this cannot deadlock
        pickle.dump((encoded_values, batches), proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        proc.stdin.close()
    except OSError as exc:
        _stop(proc)
        raise _HelperFailed(f"cannot send the work: {exc}") from exc
    return proc


def _stop(proc: subprocess.Popen) -> None:
    for stream in (proc.stdin, proc.stdout):
        try:
            stream.close()
        except OSError:
            pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def helper_main() -> int:
    """The helper: one request frame on stdin, one answer frame per batch on stdout."""
    try:
        encoded_values, batches = pickle.load(sys.stdin.buffer)
    except EOFError:
        return 0
    out = sys.stdout.buffer
    try:
        for paths in batches:
            pickle.dump(read_batch(paths, encoded_values=encoded_values), out, protocol=pickle.HIGHEST_PROTOCOL)
            out.flush()
    except BrokenPipeError:  # the sync stopped reading (it ended, or was killed): nothing to do
        os._exit(0)  # not sys.exit: the interpreter would flush stdout into the broken pipe again
    return 0


if __name__ == "__main__":
    # through the imported module, so that what the helper pickles is crm_sync.reader.ReadResult
    # (not __main__.ReadResult, which the sync could not load)
    from crm_sync import reader

    sys.exit(reader.helper_main())
