"""New images' bytes packed into large files allocated in advance: `images/packs/{n:06d}.pack`.

Why: a file per image costs the kernel a new inode, a directory entry, fresh page-cache pages
and a journal commit for every image (~0.7 ms of system CPU per image under load on the
benchmark VM). A batch of images copied into one buffer, written with one `pwrite` into space
allocated beforehand and made durable with one `fdatasync` costs ~0.1 ms (docs/performance.md).

Layout. A pack is claimed by creating it with O_EXCL, so two processes sharing a data directory
never write into the same pack. Before its first record is written it is allocated in full
(`posix_fallocate`) and fsynced together with its directory. A record starts at a 4096-byte
boundary: a 64-byte header (magic, length, the image's plain key), then the bytes, zero-padded
to the next boundary. Where a record lives is part of its blob key,
`{id}.{ext}@{pack}.{offset}.{length}`, and that key is what the row stores. Reading a record
needs no index, only one `pread`, and its header is checked against the key: a wrong, deleted
or never-written place reads as missing, never as another image.

Writes. `place(key, size)` reserves the next free place; it is cheap and thread-safe. `write`
copies a batch's records into an aligned buffer and writes each run of neighbouring places with
one `pwrite`. It uses O_DIRECT where the filesystem allows it, which keeps the page cache out.
Then it `fdatasync`s each pack once. Only after that may a row name the key, so a crash leaves
at most reserved space that nothing references. Delete punches a hole, which hands the space
back to the filesystem; the region then reads as zeros.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import itertools
import mmap
import os
import re
import struct
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from flux_remix.storage.records import check_blob_key

MAGIC = b"FLXPACK1"
HEADER = struct.Struct("<8sQH46s")  # magic, data length, key length, key: 64 bytes
ALIGN = 4096  # record boundary: O_DIRECT needs offsets, lengths and buffers aligned to blocks
PACK_BYTES = 32 << 20  # a pack's size (a record larger than this gets a pack of its own size)
CHUNK_BYTES = 4 << 20  # the most bytes one write buffer holds (a larger record gets its own)
_PACK_NAME = re.compile(r"^(\d{6})\.pack$")
_PACKED_KEY = re.compile(r"^([0-9a-f]{32}\.(?:png|jpg))@(\d{6})\.(\d{1,15})\.(\d{1,12})$")
_PUNCH_HOLE = 0x03  # FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE


@dataclass(frozen=True)
class Place:
    """Where one record lives: pack number, byte offset (aligned) and the data's length."""

    name: str  # the image's plain key, `{id}.{ext}`
    pack: int
    offset: int
    length: int

    @property
    def key(self) -> str:
        return f"{self.name}@{self.pack:06d}.{self.offset}.{self.length}"

    @property
    def span(self) -> int:
        """Bytes the record takes in its pack, header and padding included."""
        return _aligned(HEADER.size + self.length)

    def header(self) -> bytes:
        return HEADER.pack(MAGIC, self.length, len(self.name), self.name.encode())


def parse(key: str) -> Place | None:
    """The place a packed key names; None for any other string."""
    match = _PACKED_KEY.match(key)
    if match is None or int(match[3]) % ALIGN:
        return None
    return Place(match[1], int(match[2]), int(match[3]), int(match[4]))


@dataclass(eq=False)
class _Pack:
    """A pack file this process holds open for writing."""

    number: int
    fd: int
    capacity: int  # bytes allocated before the first write; 0 when it existed already
    ready: bool = False  # allocated and its directory entry durable
    users: int = 0  # writers using `fd` now (it is closed only when none is)
    lock: threading.Lock = field(default_factory=threading.Lock)  # held while preparing


class Packs:
    """The pack files under `root`; every method blocks (call it from a worker thread), except
    `place`, which only touches the disk once per pack (to claim the next one)."""

    def __init__(self, root: Path, *, pack_bytes: int = PACK_BYTES, direct: bool = True) -> None:
        self.root = root
        self.pack_bytes = _aligned(pack_bytes)
        self.direct = direct and hasattr(os, "O_DIRECT")
        self._lock = threading.Lock()  # guards everything below
        self._open: dict[int, _Pack] = {}
        self._active: _Pack | None = None  # the pack `place` fills
        self._cursor = 0  # next free offset in `_active`
        self._next = 1  # the next pack number to try to claim
        self._buffers = threading.local()
        self._dir_fd: int | None = None

    def open(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self._dir_fd = os.open(self.root, os.O_RDONLY | os.O_CLOEXEC)
        numbers = [int(m[1]) for p in self.root.iterdir() if (m := _PACK_NAME.match(p.name))]
        self._next = max(numbers, default=0) + 1

    def close(self) -> None:
        """Give back the unused tail of the pack being filled, and close every file."""
        with self._lock:
            active, self._active = self._active, None
            if active is not None and active.users == 0:
                with contextlib.suppress(OSError):
                    if not active.ready:  # claimed, never written to
                        self.path_of(active.number).unlink()
                    else:
                        os.ftruncate(active.fd, self._cursor)
            for pack in self._open.values():
                os.close(pack.fd)
            self._open.clear()
            if self._dir_fd is not None:
                os.close(self._dir_fd)
                self._dir_fd = None

    def path_of(self, number: int) -> Path:
        return self.root / f"{number:06d}.pack"

    def place(self, name: str, size: int) -> str:
        """Reserve the next free place for `size` bytes of image `name`; its packed key."""
        check_blob_key(name)
        span = _aligned(HEADER.size + size)
        with self._lock:
            if self._active is None or self._cursor + span > self._active.capacity:
                self._active = self._claim(max(self.pack_bytes, span))
                self._cursor = 0
            place = Place(name, self._active.number, self._cursor, size)
            self._cursor += span
        return place.key

    def _claim(self, capacity: int) -> _Pack:
        """Create the next unused pack number (O_EXCL: no other process can have it)."""
        if self._dir_fd is None:
            raise OSError(errno.EBADF, "the pack directory is not open")
        while True:
            number = self._next
            self._next += 1
            try:
                fd = self._open_fd(number, os.O_CREAT | os.O_EXCL)
            except FileExistsError:
                continue
            pack = self._open[number] = _Pack(number, fd, capacity)
            self._retire(self._active)
            return pack

    def _open_fd(self, number: int, flags: int) -> int:
        flags |= os.O_RDWR | os.O_CLOEXEC
        if self.direct:
            try:
                return os.open(self.path_of(number), flags | os.O_DIRECT, 0o644)
            except OSError as exc:
                if exc.errno != errno.EINVAL:  # the filesystem refuses O_DIRECT (tmpfs)
                    raise
                self.direct = False
        return os.open(self.path_of(number), flags, 0o644)

    def write(self, items: Sequence[tuple[Place, bytes]]) -> list[OSError | None]:
        """Write every record, then fdatasync each pack once; one error (or None) per item."""
        errors: list[OSError | None] = [None] * len(items)
        order = sorted(range(len(items)), key=lambda i: (items[i][0].pack, items[i][0].offset))
        for number, group in itertools.groupby(order, lambda i: items[i][0].pack):
            indexes = list(group)
            try:
                pack = self._acquire(number)
            except OSError as exc:
                for i in indexes:
                    errors[i] = exc
                continue
            try:
                self._write_pack(pack, [(i, *items[i]) for i in indexes], errors)
            finally:
                self._release(pack)
        return errors

    def _write_pack(
        self, pack: _Pack, records: list[tuple[int, Place, bytes]], errors: list[OSError | None]
    ) -> None:
        try:
            self._prepare(pack)
            for run in _runs(records):
                try:
                    self._write_run(pack.fd, run)
                except OSError as exc:
                    for i, _, _ in run:
                        errors[i] = exc
            os.fdatasync(pack.fd)
        except OSError as exc:
            for i, _, _ in records:
                errors[i] = errors[i] or exc

    def _prepare(self, pack: _Pack) -> None:
        """Allocate a newly claimed pack and make its directory entry durable, once."""
        if pack.ready:
            return
        with pack.lock:
            if pack.ready:
                return
            if pack.capacity:
                with contextlib.suppress(OSError):  # no fallocate here: writes allocate
                    os.posix_fallocate(pack.fd, 0, pack.capacity)
                os.fsync(pack.fd)
                assert self._dir_fd is not None
                os.fsync(self._dir_fd)
            pack.ready = True

    def _write_run(self, fd: int, run: list[tuple[int, Place, bytes]]) -> None:
        """Neighbouring records with one pwrite, from an aligned buffer."""
        total = sum(place.span for _, place, _ in run)
        buffer = self._buffer(total)
        position = 0
        for _, place, data in run:
            end = position + HEADER.size + len(data)
            buffer[position : position + HEADER.size] = place.header()
            buffer[position + HEADER.size : end] = data
            buffer[end : position + place.span] = bytes(position + place.span - end)
            position += place.span
        view = memoryview(buffer)[:total]
        offset = run[0][1].offset
        written = 0
        try:
            while written < total:
                count = os.pwrite(fd, view[written:], offset + written)
                if count <= 0:
                    raise OSError(errno.EIO, "short write to an image pack")
                written += count
        finally:
            view.release()

    def _buffer(self, size: int) -> mmap.mmap:
        """This thread's page-aligned write buffer (a bigger one just for an oversized run)."""
        if size > CHUNK_BYTES:
            return mmap.mmap(-1, size)
        buffer: mmap.mmap | None = getattr(self._buffers, "buffer", None)
        if buffer is None:
            buffer = self._buffers.buffer = mmap.mmap(-1, CHUNK_BYTES)
        return buffer

    def _acquire(self, number: int) -> _Pack:
        with self._lock:
            pack = self._open.get(number)
            if pack is None:  # written before, by this process or another: already allocated
                pack = self._open[number] = _Pack(number, self._open_fd(number, 0), 0, True)
            pack.users += 1
            return pack

    def _release(self, pack: _Pack) -> None:
        with self._lock:
            pack.users -= 1
            if pack is not self._active:
                self._retire(pack)

    def _retire(self, pack: _Pack | None) -> None:
        """Close a pack no longer filled once nobody writes to it (caller holds the lock)."""
        if pack is not None and pack.users == 0 and self._open.get(pack.number) is pack:
            del self._open[pack.number]
            os.close(pack.fd)

    def read(self, place: Place) -> bytes | None:
        """The record's bytes; None when the place holds no record of that key and length."""
        return self._read(place, with_data=True)

    def exists(self, place: Place) -> bool:
        return self._read(place, with_data=False) is not None

    def _read(self, place: Place, *, with_data: bool) -> bytes | None:
        """The header is read and checked on its own, then the bytes straight into the answer
        (one pread of both would copy the image a second time to cut the header off)."""
        try:
            fd = os.open(self.path_of(place.pack), os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:
            if os.pread(fd, HEADER.size, place.offset) != place.header():
                return None
            if not with_data:
                return b""
            data = os.pread(fd, place.length, place.offset + HEADER.size)
        finally:
            os.close(fd)
        return data if len(data) == place.length else None

    def scan(self) -> Iterator[Place]:
        """Every record in every pack, by walking the headers (for checks and repairs: the rows
        are the index; a record no row names was written but never committed)."""
        for path in sorted(self.root.iterdir()):
            match = _PACK_NAME.match(path.name)
            if match is None:
                continue
            with path.open("rb") as f:
                offset, size = 0, os.fstat(f.fileno()).st_size
                while offset + HEADER.size <= size:
                    header = os.pread(f.fileno(), HEADER.size, offset)
                    place = _place_at(int(match[1]), offset, header)
                    offset += place.span if place is not None else ALIGN
                    if place is not None:
                        yield place

    def delete(self, place: Place) -> None:
        """Punch the record out (or, where holes cannot be punched, zero its header)."""
        try:
            fd = os.open(self.path_of(place.pack), os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            return
        try:
            if os.pread(fd, HEADER.size, place.offset) != place.header():
                return  # not this record (already deleted): leave the bytes alone
            if not _punch_hole(fd, place.offset, place.span):
                os.pwrite(fd, bytes(HEADER.size), place.offset)
            os.fdatasync(fd)
        finally:
            os.close(fd)


def _place_at(number: int, offset: int, header: bytes) -> Place | None:
    magic, length, key_length, key = HEADER.unpack(header)
    if magic != MAGIC or key_length > len(key):
        return None
    place = Place(key[:key_length].decode("ascii", "replace"), number, offset, length)
    return place if header == place.header() else None


def _aligned(size: int) -> int:
    return -(-size // ALIGN) * ALIGN


def _runs(records: list[tuple[int, Place, bytes]]) -> Iterator[list[tuple[int, Place, bytes]]]:
    """Records in offset order, cut where they are not neighbours or a buffer would overflow."""
    run: list[tuple[int, Place, bytes]] = []
    end = size = 0
    for record in records:
        place = record[1]
        if run and (place.offset != end or size + place.span > CHUNK_BYTES):
            yield run
            run, size = [], 0
        run.append(record)
        end = place.offset + place.span
        size += place.span
    if run:
        yield run


def _load_fallocate() -> object | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fallocate = libc.fallocate
    except (OSError, AttributeError):
        return None
    fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    fallocate.restype = ctypes.c_int
    return fallocate


_fallocate = _load_fallocate()


def _punch_hole(fd: int, offset: int, length: int) -> bool:
    """Free `length` bytes at `offset` (they read as zeros after); False where unsupported."""
    if _fallocate is None:
        return False
    return bool(_fallocate(fd, _PUNCH_HOLE, offset, length) == 0)  # type: ignore[operator]
