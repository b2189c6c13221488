"""Pack files: places, batched writes, reads checked against the key, holes, claims, fallbacks."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from flux_remix.storage import packs
from flux_remix.storage.disk import DiskBlobStore
from flux_remix.storage.packs import ALIGN, HEADER, Packs, Place, parse
from flux_remix.storage.records import blob_key_for
from tests.storage.helpers import png_bytes

SMALL = 64 * 1024  # a pack size that a handful of test images overflow


def name(i: int) -> str:
    return blob_key_for(f"{i:032x}", "png")


def blob(i: int, size: int = 10_000) -> bytes:
    return (i.to_bytes(4, "big") * (size // 4 + 1))[:size]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Packs]:
    opened = Packs(tmp_path / "packs", pack_bytes=SMALL)
    opened.open()
    yield opened
    opened.close()


def put(store: Packs, items: list[tuple[str, bytes]]) -> list[Place]:
    places = [parse(store.place(key, len(data))) for key, data in items]
    assert all(p is not None for p in places)
    ok = [p for p in places if p is not None]
    assert store.write([(p, data) for p, (_, data) in zip(ok, items, strict=True)]) == [None] * len(
        items
    )
    return ok


def test_places_are_aligned_neighbours_and_their_keys_round_trip(store: Packs) -> None:
    first, second = (parse(store.place(name(i), 5000)) for i in range(2))
    assert first == Place(name(0), 1, 0, 5000)
    assert second == Place(name(1), 1, ALIGN * 2, 5000)  # 64 + 5000 bytes take two blocks
    assert parse(second.key) == second and second.key == f"{name(1)}@000001.8192.5000"


@pytest.mark.parametrize(
    "key",
    [
        name(1),  # a plain key is not a place
        f"{name(1)}@000001.100.5000",  # not on a block boundary
        f"{name(1)}@1.0.5000",  # pack number not six digits
        f"../{name(1)}@000001.0.5000",
        f"{name(1)}@000001.0.5000/../x",
        f"{name(1)[:-4]}.gif@000001.0.5000",
    ],
)
def test_anything_else_is_not_a_place(key: str) -> None:
    assert parse(key) is None


def test_a_batch_is_one_write_per_run_and_one_fdatasync_per_pack(
    store: Packs, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    for fn in ("pwrite", "fdatasync"):
        real = getattr(os, fn)
        monkeypatch.setattr(os, fn, lambda *a, _f=fn, _r=real: calls.append(_f) or _r(*a))
    items = [(name(i), blob(i)) for i in range(4)]  # 4 x 3 blocks: all in the first pack
    places = put(store, items)
    assert calls == ["pwrite", "fdatasync"]
    assert [store.read(p) for p in places] == [data for _, data in items]


def test_records_roll_over_into_new_packs_and_a_big_one_gets_its_own(store: Packs) -> None:
    items = [(name(i), blob(i, 20_000)) for i in range(6)] + [(name(9), blob(9, 3 * SMALL))]
    places = put(store, items)
    assert [p.pack for p in places] == [1, 1, 1, 2, 2, 2, 3]
    assert [store.read(p) for p in places] == [data for _, data in items]
    store.close()
    again = Packs(store.root)  # a fresh process reads them, and claims the next number
    again.open()
    assert [again.read(p) for p in places] == [data for _, data in items]
    assert parse(again.place(name(10), 10)) == Place(name(10), 4, 0, 10)
    again.close()


def test_two_processes_on_one_directory_never_share_a_pack(tmp_path: Path) -> None:
    one, two = Packs(tmp_path / "packs"), Packs(tmp_path / "packs")
    one.open()
    two.open()  # both saw no packs yet
    a, b = parse(one.place(name(1), 100)), parse(two.place(name(2), 100))
    assert a is not None and b is not None and (a.pack, b.pack) == (1, 2)
    assert one.write([(a, b"a" * 100)]) == [None] and two.write([(b, b"b" * 100)]) == [None]
    assert one.read(a) == b"a" * 100 and one.read(b) == b"b" * 100
    one.close()
    two.close()


def test_a_place_reads_only_as_its_own_image(store: Packs) -> None:
    [place] = put(store, [(name(1), blob(1))])
    assert store.read(place) == blob(1) and store.exists(place)
    for wrong in (
        Place(name(2), place.pack, place.offset, place.length),  # another image's key
        Place(name(1), place.pack, place.offset, place.length - 1),  # another length
        Place(name(1), place.pack, place.offset + place.span, place.length),  # never written
        Place(name(1), 77, place.offset, place.length),  # no such pack
    ):
        assert store.read(wrong) is None and not store.exists(wrong)


def test_delete_punches_the_record_out_and_leaves_its_neighbours(store: Packs) -> None:
    places = put(store, [(name(i), blob(i, 30_000)) for i in range(2)])
    path = store.path_of(1)
    store.close()  # the unused tail goes: what remains is the two records
    assert path.stat().st_size == places[1].offset + places[1].span
    blocks = path.stat().st_blocks
    store.delete(Place(name(5), 1, places[0].offset, places[0].length))  # a wrong key: no-op
    assert store.read(places[0]) == blob(0, 30_000)
    store.delete(places[0])
    assert store.read(places[0]) is None and not store.exists(places[0])
    assert store.read(places[1]) == blob(1, 30_000)
    assert path.stat().st_blocks < blocks  # the space went back to the filesystem
    store.delete(places[0])  # twice is fine
    assert [p.name for p in store.scan()] == [name(1)]


def test_close_removes_a_claimed_pack_that_holds_nothing(tmp_path: Path) -> None:
    store = Packs(tmp_path / "packs")
    store.open()
    parse(store.place(name(1), 10))  # claimed, never written (its save failed elsewhere)
    store.close()
    assert list((tmp_path / "packs").iterdir()) == []


def test_scan_finds_every_record_a_killed_process_left(store: Packs) -> None:
    items = [(name(i), blob(i, 20_000)) for i in range(5)]
    put(store, items)
    lost = parse(store.place(name(7), 100))  # reserved, then "killed" before its write
    assert lost is not None
    assert sorted(p.name for p in store.scan()) == sorted(key for key, _ in items)


def test_without_o_direct_the_same_records_are_written_through_the_page_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = os.open

    def no_direct(path: object, flags: int, *args: object) -> int:
        if flags & getattr(os, "O_DIRECT", 0):  # as tmpfs answers
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(path, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", no_direct)
    store = Packs(tmp_path / "packs")
    store.open()
    places = put(store, [(name(i), blob(i)) for i in range(3)])
    assert not store.direct
    assert [store.read(p) for p in places] == [blob(i) for i in range(3)]
    store.close()


def test_where_holes_cannot_be_punched_delete_clears_the_header(
    store: Packs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(packs, "_fallocate", None)
    [place] = put(store, [(name(1), blob(1))])
    store.delete(place)
    assert store.read(place) is None
    with store.path_of(1).open("rb") as f:
        f.seek(place.offset)
        assert f.read(HEADER.size) == bytes(HEADER.size)


async def test_the_disk_store_packs_placed_keys_and_still_reads_one_file_per_image(
    tmp_path: Path,
) -> None:
    disk = DiskBlobStore(tmp_path / "images")
    await disk.open()
    try:
        old, new = png_bytes((1, 2, 3)), png_bytes((4, 5, 6))
        await disk.put(name(1), old, "image/png")  # as stored before packs: a file
        assert disk.path_of(name(1)).read_bytes() == old
        key = disk.place(name(2), len(new))
        short = disk.place(name(3), 10)
        outcomes = await disk.put_many([(key, new, "image/png"), (short, b"x", "image/png")])
        assert outcomes[0] is None and isinstance(outcomes[1], ValueError)  # wrong length
        assert await disk.get(name(1)) == old and await disk.get(key) == new
        assert await disk.exists(key) and not await disk.exists(short)
        await disk.delete(key)
        assert await disk.get(key) is None
        await disk.put(key, new, "image/png")  # written again at its place (a reused blob)
        assert await disk.get(key) == new
        with pytest.raises(ValueError):
            disk.path_of(key)  # a packed key names no file
    finally:
        await disk.close()
