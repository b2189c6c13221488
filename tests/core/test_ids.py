"""`new_id`: the ids of images, generations, jobs and requests."""

from __future__ import annotations

import re

from flux_remix.ids import new_id
from flux_remix.storage.records import IMAGE_ID


def test_an_id_is_32_hex_digits_and_fits_image_ids():
    for _ in range(100):
        assert IMAGE_ID.match(new_id())


def test_a_short_id_has_twice_as_many_digits_as_bytes():
    assert re.fullmatch(r"[0-9a-f]{16}", new_id(8))


def test_ids_do_not_repeat():
    assert len({new_id() for _ in range(10_000)}) == 10_000
