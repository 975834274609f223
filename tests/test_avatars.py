"""Avatars: what an upload must be to become a picture, and what is made of it (node.members.avatars)."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image, ImageFile

from node.members.avatars import SIZE, AvatarError, make_avatar

LIMITS = {"max_bytes": 5 * 1024 * 1024, "max_pixels": 24_000_000}


def picture(size=(1200, 800), fmt="JPEG", colour=(200, 40, 40), **save) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, fmt, **save)
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A valid small PNG whose header says ``width`` × ``height`` (CRC fixed, so readers trust it)."""
    data = bytearray(picture((8, 8), "PNG"))
    ihdr = data.index(b"IHDR")
    data[ihdr + 4:ihdr + 12] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr:ihdr + 17])) & 0xFFFFFFFF
    data[ihdr + 17:ihdr + 21] = struct.pack(">I", crc)
    return bytes(data)


def test_a_photo_becomes_a_square_webp_of_the_avatar_size():
    """A 1200 × 800 JPEG comes out as a 400 × 400 WebP."""
    avatar = make_avatar(picture(), **LIMITS)
    with Image.open(io.BytesIO(avatar.data)) as image:
        assert (image.format, image.size) == ("WEBP", (SIZE, SIZE))
    assert avatar.media_type == "image/webp"


def test_location_and_other_metadata_are_dropped():
    """A JPEG carrying EXIF (a camera's GPS position) comes out with no EXIF at all."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 30.0)}  # GPSInfo
    avatar = make_avatar(picture(exif=exif.tobytes()), **LIMITS)
    with Image.open(io.BytesIO(avatar.data)) as image:
        assert not image.getexif()
    assert b"PhoneMaker" not in avatar.data


def test_an_upload_past_the_byte_limit_is_refused_with_413():
    """A picture larger than avatar_max_bytes is refused before Pillow sees it."""
    with pytest.raises(AvatarError) as refused:
        make_avatar(picture(), max_bytes=1024, max_pixels=LIMITS["max_pixels"])
    assert refused.value.status == 413 and "limit" in refused.value.reason


def test_something_that_is_not_a_picture_is_refused_with_415():
    """An HTML page (with a script) named like a picture is not one."""
    with pytest.raises(AvatarError) as refused:
        make_avatar(b"<html><script>alert(1)</script></html>", **LIMITS)
    assert refused.value.status == 415


def test_a_picture_in_another_format_is_refused_with_415():
    """A BMP (or TIFF, or anything but PNG, JPEG, GIF and WebP) is refused."""
    with pytest.raises(AvatarError) as refused:
        make_avatar(picture((64, 64), "BMP"), **LIMITS)
    assert refused.value.status == 415


def test_a_small_png_claiming_huge_dimensions_is_refused_without_decoding(monkeypatch):
    """A 100-byte PNG whose header claims 100,000 × 100,000 pixels is refused with 413, no pixel decoded."""
    bomb = png_claiming(100_000, 100_000)

    def decode(self):
        raise AssertionError("the bomb was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", decode)
    with pytest.raises(AvatarError) as refused:
        make_avatar(bomb, **LIMITS)
    assert refused.value.status == 413
    assert len(bomb) < 200


def test_a_picture_over_the_pixel_limit_is_refused_with_413():
    """A real 600 × 600 picture is refused when avatar_max_pixels allows fewer pixels."""
    with pytest.raises(AvatarError) as refused:
        make_avatar(picture((600, 600), "PNG"), max_bytes=LIMITS["max_bytes"], max_pixels=500 * 500)
    assert refused.value.status == 413 and "600 × 600" in refused.value.reason


def test_a_cut_short_picture_is_refused_with_400():
    """The first half of a PNG is refused as damaged, not a crash."""
    whole = picture((300, 300), "PNG", compress_level=0)
    with pytest.raises(AvatarError) as refused:
        make_avatar(whole[: len(whole) // 2], **LIMITS)
    assert refused.value.status == 400


def test_a_transparent_png_keeps_its_transparency():
    """A PNG with an alpha channel stays transparent where it was."""
    out = io.BytesIO()
    Image.new("RGBA", (500, 500), (0, 0, 0, 0)).save(out, "PNG")
    avatar = make_avatar(out.getvalue(), **LIMITS)
    with Image.open(io.BytesIO(avatar.data)) as image:
        assert image.mode == "RGBA" and image.getpixel((10, 10))[3] == 0


def test_an_animated_gif_becomes_its_first_frame():
    """An animated GIF is accepted; the avatar is a still picture."""
    frames = [Image.new("RGB", (100, 100), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    avatar = make_avatar(out.getvalue(), **LIMITS)
    with Image.open(io.BytesIO(avatar.data)) as image:
        assert getattr(image, "n_frames", 1) == 1
        red, green, blue = image.convert("RGB").getpixel((200, 200))
        assert red > 200 and blue < 50


async def test_a_stored_avatar_is_served_from_the_media_route_and_cached_for_good(node, http):
    """The avatar's URL answers the WebP with an immutable cache; after a new picture the old URL is 404."""
    from node.db import avatars as db
    from node.services.setup import ensure_local_actor

    async with node.node.sessions.begin() as session:
        alice, _ = await ensure_local_actor(session, node.settings, "alice", "Person", "Alice")
        first = make_avatar(picture(), **LIMITS)
        await db.set_avatar(session, alice.id, data=first.data, media_type=first.media_type, digest=first.digest,
                            width=first.width, height=first.height)
    old_url = node.node.urls.avatar(alice.id, first.digest)
    async with http.get(old_url) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "image/webp"
        assert "immutable" in response.headers["Cache-Control"]
        assert await response.read() == first.data
    async with node.node.sessions.begin() as session:
        second = make_avatar(picture((500, 900), "PNG", colour=(20, 90, 200)), **LIMITS)
        await db.set_avatar(session, alice.id, data=second.data, media_type=second.media_type,
                            digest=second.digest, width=second.width, height=second.height)
    async with http.get(old_url) as response:
        assert response.status == 404
    async with http.get(node.node.urls.avatar(alice.id, second.digest)) as response:
        assert response.status == 200 and await response.read() == second.data
