"""Members' pictures: an uploaded image checked, cropped square, resized and re-encoded with Pillow.

Nothing a member uploads is served as sent.  The upload must be small enough
(``avatar_max_bytes``), one of the formats browsers and Pillow agree on (PNG,
JPEG, GIF, WebP; read from its header, whatever its name or declared type), and
claim no more than ``avatar_max_pixels`` in its header *before* any pixel is
decoded, so a small file that claims a huge picture (a "decompression bomb")
costs nothing.  Pillow's own bomb check is turned into an error as well.  The
picture is then turned upright (EXIF orientation), cropped to a centred square,
resized to ``SIZE`` × ``SIZE`` and written afresh as WebP: metadata (EXIF, GPS
position) and anything hidden after the image data are dropped.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from node.errors import NodeError

SIZE = 400  # pixels, width and height: sharp at 2x for the 200 px profile picture
FORMATS = {"PNG", "JPEG", "GIF", "WEBP"}
MEDIA_TYPE = "image/webp"
QUALITY = 85


class AvatarError(NodeError):
    """An upload that is not made a picture; ``status`` is the HTTP answer (400, 413 or 415)."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class Avatar:
    """A picture ready to store and serve."""

    data: bytes
    media_type: str
    width: int
    height: int

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def make_avatar(upload: bytes, *, max_bytes: int, max_pixels: int) -> Avatar:
    """The picture made from ``upload``, or ``AvatarError`` saying why not.

    Blocks while it decodes: call it in a thread (``asyncio.to_thread``).
    """
    if not upload:
        raise AvatarError("The file is empty.")
    if len(upload) > max_bytes:
        raise AvatarError(f"The picture is {len(upload) / 1024 / 1024:.1f} MB; the limit is "
                          f"{max_bytes / 1024 / 1024:.1f} MB.", 413)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(upload), formats=sorted(FORMATS))
        except UnidentifiedImageError:
            raise AvatarError("This is not a picture in PNG, JPEG, GIF or WebP.", 415) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            # Pillow's own guard, at open for a header claiming billions of pixels: the same answer as ours.
            raise AvatarError(f"The picture claims far more pixels than the {max_pixels:,} accepted.", 413) from None
        except (OSError, ValueError, SyntaxError):
            raise AvatarError("The picture could not be read.", 400) from None
        with image:
            width, height = image.size
            if width < 1 or height < 1 or width * height > max_pixels:
                raise AvatarError(f"The picture is {width} × {height} pixels, more than the {max_pixels:,} "
                                  "accepted.", 413)
            try:
                if image.format == "JPEG":
                    image.draft("RGB", (SIZE * 2, SIZE * 2))  # decode at a fraction of the size: less memory and time
                image.seek(0)  # an animation's first frame
                image.load()
                upright = ImageOps.exif_transpose(image)
                mode = "RGBA" if upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info else "RGB"
                square = ImageOps.fit(upright.convert(mode), (SIZE, SIZE), method=Image.Resampling.LANCZOS)
            except (Image.DecompressionBombError, Image.DecompressionBombWarning):
                raise AvatarError(f"The picture claims far more pixels than the {max_pixels:,} accepted.", 413) from None
            except (OSError, ValueError, SyntaxError, EOFError):
                raise AvatarError("The picture is damaged or cut short.", 400) from None
    out = io.BytesIO()
    square.save(out, format="WEBP", quality=QUALITY, method=4)
    return Avatar(out.getvalue(), MEDIA_TYPE, SIZE, SIZE)
