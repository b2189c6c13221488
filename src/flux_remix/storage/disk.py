"""Image bytes under `FLUX_REMIX_DATA_DIR/images/` (the embedded default).

New images go into pack files (`packs.py`): `place(key, size)` gives each its packed key, and
`put_many` writes a batch of them with one write and one fdatasync per pack. Plain keys
(`{id}.{ext}`: images stored before packs, and any caller that did not place its key) are one
file each, written and read as follows.

`put` (replacing a blob a row may already name) writes a temporary file in the same directory,
fsyncs it, renames it over the final name and fsyncs the directory: a reader sees the whole file
or none, and a killed process leaves at most a stray `.tmp` file, which `open()` sweeps away.
`put_many` stores new images, whose keys no row names yet, so nobody can read them half-written:
each file is created in place with O_DSYNC (durable when the write returns, three system calls)
and each directory fsynced once per batch; a failed write removes its file, and a crash leaves
only an unreferenced one. A batch is split over a few disk threads (one per 2 files, at most 8)
so that the fsyncs overlap. The 256 subdirectories (`ab/`) are made on first use, their parent
fsynced once per process, and then held open (no `stat` per write, no `open` per fsync). Keys
are checked against `{id}.{ext}`, so no key can name a path outside the directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from flux_remix.errors import StorageError
from flux_remix.storage import packs
from flux_remix.storage.records import check_blob_key

_STALE_TMP_SECONDS = 3600  # a temp file this old belongs to no live writer
_FILES_PER_WRITER = 2  # `put_many` uses one worker thread per 2 files...
_MAX_WRITERS = 8  # ...and at most 8 (per batch; two batches may be in flight)


class DiskBlobStore:
    def __init__(self, root: Path, *, pack_bytes: int = packs.PACK_BYTES) -> None:
        self.root = root
        self.packs = packs.Packs(root / "packs", pack_bytes=pack_bytes)
        # subdirectories known to exist (their entry durable), each held open for its fsyncs
        self._dir_fds: dict[Path, int] = {}
        # its own threads: each write waits on the disk, and the default executor is small
        self._threads = ThreadPoolExecutor(2 * _MAX_WRITERS, thread_name_prefix="flux-remix-disk")

    def path_of(self, key: str) -> Path:
        key = check_blob_key(key)
        return self.root / key[:2] / key

    async def open(self) -> None:
        try:
            await asyncio.to_thread(self._prepare)
        except OSError as exc:
            raise StorageError(f"cannot use the image directory {self.root}: {exc}") from exc

    def _prepare(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.packs.open()
        cutoff = time.time() - _STALE_TMP_SECONDS
        for tmp in self.root.glob("*/.*.tmp"):
            with contextlib.suppress(OSError):
                if tmp.stat().st_mtime < cutoff:
                    tmp.unlink()

    async def close(self) -> None:
        await asyncio.to_thread(self._threads.shutdown)
        await asyncio.to_thread(self.packs.close)
        for directory in list(self._dir_fds):
            self._forget_dir(directory)

    def place(self, key: str, size: int) -> str:
        """The packed key a new image `key` of `size` bytes is to be written under."""
        try:
            return self.packs.place(key, size)
        except OSError as exc:
            raise StorageError(f"cannot make room for image {key}: {exc}") from exc

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        if packs.parse(key) is not None:
            error = (await self.put_many([(key, data, content_type)]))[0]
            if error is not None:
                raise error
            return
        path = self.path_of(key)
        try:
            await asyncio.to_thread(self._write_replacing, path, data)
        except OSError as exc:
            raise StorageError(f"cannot write image {key}: {exc}") from exc

    def _write_replacing(self, path: Path, data: bytes) -> None:
        self._in_dir(path, data, _write_and_rename)
        self._fsync_dir(path.parent)

    async def put_many(self, items: Sequence[tuple[str, bytes, str]]) -> list[BaseException | None]:
        """New images' blobs: keys that no row names yet (see `_write_new`)."""
        return await asyncio.to_thread(self.put_many_blocking, items)

    def put_many_blocking(
        self, items: Sequence[tuple[str, bytes, str]]
    ) -> list[BaseException | None]:
        """`put_many` from a worker thread (never the event loop): placed keys go into their
        packs, with one write per run of neighbours and one fdatasync per pack; plain keys are
        files, split over a few disk threads so that their fsyncs overlap."""
        outcomes: list[BaseException | None] = [None] * len(items)
        jobs: list[tuple[int, Path, bytes]] = []
        packed: list[tuple[int, packs.Place, bytes]] = []
        for i, (key, data, _) in enumerate(items):
            place = packs.parse(key)
            try:
                if place is None:
                    jobs.append((i, self.path_of(key), data))
                elif len(data) != place.length:
                    raise ValueError(f"{len(data)} bytes for a place of {place.length}: {key}")
                else:
                    packed.append((i, place, data))
            except ValueError as exc:
                outcomes[i] = exc
        if packed:
            errors = self.packs.write([(place, data) for _, place, data in packed])
            for (i, _, _), error in zip(packed, errors, strict=True):
                outcomes[i] = _failure(items[i][0], error)
        if jobs:
            self._write_files(items, jobs, outcomes)
        return outcomes

    def _write_files(
        self,
        items: Sequence[tuple[str, bytes, str]],
        jobs: list[tuple[int, Path, bytes]],
        outcomes: list[BaseException | None],
    ) -> None:
        """Plain keys, one file each, split over a few disk threads."""
        writers = min(_MAX_WRITERS, -(-len(jobs) // _FILES_PER_WRITER))
        chunks = [jobs[w::writers] for w in range(writers)]
        others = [
            self._threads.submit(self._write_batch, [(p, d) for _, p, d in c]) for c in chunks[1:]
        ]
        results = [self._write_batch([(p, d) for _, p, d in chunks[0]])] if chunks else []
        results += [f.result() for f in others]
        errors = [e for result in results for e in result]
        for (i, _, _), error in zip([j for c in chunks for j in c], errors, strict=True):
            outcomes[i] = _failure(items[i][0], error)

    def _write_batch(self, jobs: list[tuple[Path, bytes]]) -> list[OSError | None]:
        """Write every file, then fsync each directory once; one error (or None) per file."""
        errors: list[OSError | None] = [None] * len(jobs)
        written: dict[Path, list[int]] = {}
        for i, (path, data) in enumerate(jobs):
            try:
                self._write_one(path, data)
            except OSError as exc:
                errors[i] = exc
            else:
                written.setdefault(path.parent, []).append(i)
        for directory, indexes in written.items():
            try:
                self._fsync_dir(directory)
            except OSError as exc:
                for i in indexes:
                    errors[i] = exc
        return errors

    def _write_one(self, path: Path, data: bytes) -> None:
        try:
            self._in_dir(path, data, _write_new)
        except FileExistsError:  # not a new key after all: replace it atomically
            _write_and_rename(path, data)

    def _in_dir(self, path: Path, data: bytes, write: Callable[[Path, bytes], None]) -> None:
        """`write(path, data)` once `path`'s directory exists (made again, and the write
        retried, when it went away after we saw it)."""
        self._ensure_dir(path.parent)
        try:
            write(path, data)
        except FileNotFoundError:
            self._forget_dir(path.parent)
            self._ensure_dir(path.parent)
            write(path, data)

    def _ensure_dir(self, directory: Path) -> None:
        if directory in self._dir_fds:
            return
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
        _fsync_fd(os.open(directory.parent, os.O_RDONLY | os.O_CLOEXEC), close=True)
        if self._dir_fds.setdefault(directory, fd) != fd:  # another thread was first
            os.close(fd)

    def _forget_dir(self, directory: Path) -> None:
        fd = self._dir_fds.pop(directory, None)
        if fd is not None:
            os.close(fd)

    def _fsync_dir(self, directory: Path) -> None:
        fd = self._dir_fds.get(directory)
        if fd is None:
            _fsync_fd(os.open(directory, os.O_RDONLY | os.O_CLOEXEC), close=True)
        else:
            os.fsync(fd)

    async def get(self, key: str) -> bytes | None:
        place = packs.parse(key)
        try:
            if place is not None:
                return await asyncio.to_thread(self.packs.read, place)
            return await asyncio.to_thread(self.path_of(key).read_bytes)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"cannot read image {key}: {exc}") from exc

    async def exists(self, key: str) -> bool:
        place = packs.parse(key)
        if place is None:
            return await asyncio.to_thread(self.path_of(key).is_file)
        try:
            return await asyncio.to_thread(self.packs.exists, place)
        except OSError as exc:
            raise StorageError(f"cannot read image {key}: {exc}") from exc

    async def delete(self, key: str) -> None:
        place = packs.parse(key)
        try:
            if place is not None:
                await asyncio.to_thread(self.packs.delete, place)
            else:
                await asyncio.to_thread(self.path_of(key).unlink, missing_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot delete image {key}: {exc}") from exc


def _failure(key: str, error: OSError | None) -> StorageError | None:
    if error is None:
        return None
    failure = StorageError(f"cannot write image {key}: {error}")
    failure.__cause__ = error
    return failure


def _write_and_rename(path: Path, data: bytes) -> None:
    """Write a fsynced temporary file and rename it over `path` (the caller fsyncs the dir)."""
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _write_new(path: Path, data: bytes) -> None:
    """Create `path` (it must not exist) and write `data` with O_DSYNC: durable when this
    returns, in three system calls. Only for keys no row names yet, so no reader can see the
    file half-written; a failed write removes it, a crash leaves an unreferenced file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_DSYNC | os.O_CLOEXEC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    os.close(fd)


def _fsync_fd(fd: int, *, close: bool) -> None:
    try:
        os.fsync(fd)
    finally:
        if close:
            os.close(fd)
