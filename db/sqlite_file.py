"""The SQLite file a server reads: whether it is still the same file, and whether another
process holds the locks of its WAL index.

- Identity: pooled connections keep reading the file they opened. A backup moved over it, or
  the file deleted and made again by `craftkit db init`, went unnoticed: the old data kept
  being served, revoked keys included. `changed()` compares the path's (device, inode) with
  the one the connections were opened on (one `stat` per request).
- The WAL index (`<file>-shm`): while another process holds its recovery and read-mark lock
  bytes exclusively (SQLite's WAL recovery does), a read retries inside SQLite for about 10 s
  whatever the busy timeout, then fails with "locking protocol". `wal_index_locked()` asks the
  kernel whether such a lock is held (one `fcntl(F_GETLK)`), so that read is sent to a worker
  thread instead of blocking the event loop (api/server/dbwork.py).
"""

from __future__ import annotations

import fcntl
import os
import struct

# SQLite's WAL index lock bytes (wal.c): WRITE at 120, CKPT 121, RECOVER 122, READ0-4 123-127.
# A writer holds WRITE for its whole transaction and a checkpoint CKPT, and readers go on
# meanwhile: only RECOVER and the read marks held exclusively make a reader wait.
READER_LOCKS = (122, 6)
FLOCK = "hhqqi4x"  # struct flock on Linux x86-64/aarch64: type, whence, start, len, pid


def _identity(path: str) -> tuple[int, int] | None:
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino


class SqliteFile:
    """One database file, as a server sees it while serving."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.identity = _identity(path)
        self._shm: int | None = None

    def changed(self) -> bool:
        """Whether the path names another file (or none) than when last asked."""
        now = _identity(self.path)
        if now == self.identity:
            return False
        self.identity = now
        self.close()  # the -shm beside a new file is another one too
        return True

    def wal_index_locked(self) -> bool:
        """Whether another process holds a lock that makes a reader wait (see the module)."""
        fd = self._shm_fd()
        if fd is None:
            return False
        start, length = READER_LOCKS
        probe = struct.pack(FLOCK, fcntl.F_RDLCK, os.SEEK_SET, start, length, 0)
        try:
            answer = fcntl.fcntl(fd, fcntl.F_GETLK, probe)
        except OSError:
            return False
        return struct.unpack(FLOCK, answer)[0] != fcntl.F_UNLCK

    def _shm_fd(self) -> int | None:
        if self._shm is None:
            try:
                self._shm = os.open(f"{self.path}-shm", os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                return None
        return self._shm

    def close(self) -> None:
        if self._shm is not None:
            os.close(self._shm)
            self._shm = None
