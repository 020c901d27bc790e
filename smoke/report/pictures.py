"""Screenshots in the report: downscaled, JPEG-compressed (Pillow) so that the page stays light.

Pillow is imported only where a picture is shrunk: a run without screenshots never loads it.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
from dataclasses import dataclass

# Screenshots: wide enough to read a page's text, small enough for ten of them in well under 2 MB.
IMAGE_WIDTH = 960
IMAGE_HEIGHT = 1600  # a full-page shot is cut here: the top of the page is what the presenter sees
IMAGE_QUALITY = 70
IMAGES_BUDGET = 1_200_000  # bytes of JPEG in one check's row; beyond it its pictures are shrunk further


@dataclass
class Screenshot:
    caption: str
    jpeg: bytes

    @classmethod
    def of(cls, caption: str, image: bytes, width: int = IMAGE_WIDTH) -> Screenshot:
        return cls(caption, shrink(image, width))

    def uri(self) -> str:
        return "data:image/jpeg;base64," + base64.b64encode(self.jpeg).decode("ascii")


def screenshots(shots: list[tuple[str, bytes]]) -> list[Screenshot]:
    """(caption, image) pairs as the report shows them; bytes that are no picture are left out."""
    pictures = []
    for caption, image in shots:
        try:
            pictures.append(Screenshot.of(caption, image))
        except OSError:  # PIL: not an image it can read
            continue
    return pictures


def shrink(image: bytes, width: int = IMAGE_WIDTH) -> bytes:
    """``image`` as a JPEG at most ``width`` wide and IMAGE_HEIGHT tall (the top of a long page)."""
    from PIL import Image  # only here: start-up stays free of Pillow

    with Image.open(io.BytesIO(image)) as opened:
        picture = opened.convert("RGB")
    if picture.width > width:
        picture = picture.resize((width, max(1, round(picture.height * width / picture.width))),
                                 Image.Resampling.LANCZOS)
    if picture.height > IMAGE_HEIGHT:
        picture = picture.crop((0, 0, picture.width, IMAGE_HEIGHT))
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=IMAGE_QUALITY, optimize=True, progressive=True)
    return out.getvalue()


def within_budget(shots: list[Screenshot]) -> list[Screenshot]:
    """Many or busy pictures are shrunk together so that they never make the page heavy."""
    total = sum(len(shot.jpeg) for shot in shots)
    if total <= IMAGES_BUDGET:
        return shots
    width = max(320, int(IMAGE_WIDTH * math.sqrt(IMAGES_BUDGET / total) * 0.9))
    return [Screenshot.of(shot.caption, shot.jpeg, width) for shot in shots]


def lighten_images(report) -> None:
    """pytest-html image extras (e.g. pytest-playwright's failure screenshot) as small JPEGs."""
    for extra in getattr(report, "extras", []):
        if extra.get("format_type") != "image" or extra.get("mime_type") == "image/jpeg":
            continue
        try:
            image = base64.b64decode(extra["content"], validate=True)
            extra.update(content=base64.b64encode(shrink(image)).decode("ascii"),
                         mime_type="image/jpeg", extension="jpg")
        except (binascii.Error, OSError, ValueError):
            continue  # a link, not an embedded picture
