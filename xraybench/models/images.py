"""Load sample images for models, and encode them for API adapters.

Every adapter goes through here so that images are opened, converted and resized the same way whichever
backend runs the model, and so that a missing or unreadable file is reported with the sample id and path.
The size mapping is returned because models answer with boxes in their own (resized) pixel space.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from xraybench.errors import XrayBenchError

# the size mapping is the prompt template's image policy (one home, which metrics read too without importing
# adapters); the DeepMedix constants are re-exported for the trainer's configs
from xraybench.prompts import DEEPMEDIX_IMAGE_SIZE as DEEPMEDIX_IMAGE_SIZE
from xraybench.prompts import DEEPMEDIX_MAX_PIXELS as DEEPMEDIX_MAX_PIXELS
from xraybench.prompts import target_size


def check_max_images(value: int | None) -> None:
    """`max_images` of an adapter's options: None (every view) or at least 1; 0 would silently drop every image."""
    if value is not None and value < 1:
        raise XrayBenchError(f"--model-arg max_images={value}: expected at least 1 (or leave it out for every view)")


@dataclass(frozen=True)
class LoadedImage:
    """An RGB image ready for a model, with the size it had on disk and the size the model sees."""

    image: Image.Image
    path: str
    original_size: tuple[int, int]  # (width, height) on disk
    size: tuple[int, int]  # (width, height) given to the model

    def to_original(self, box: list[float]) -> list[float]:
        """Map a box `[x_min, y_min, x_max, y_max]` from the model's pixel space back to the file's."""
        sx = self.original_size[0] / self.size[0]
        sy = self.original_size[1] / self.size[1]
        return [box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy]


def load_image(
    path: str | Path,
    sample_id: str,
    *,
    image_size: int | tuple[int, int] | None = None,
    max_pixels: int | None = None,
) -> LoadedImage:
    """Open `path` as RGB, resized as `target_size` says; errors name the sample and the file."""
    try:
        with Image.open(path) as img:
            img.load()
            rgb = img.convert("RGB")
    except FileNotFoundError as exc:
        raise XrayBenchError(f"sample {sample_id}: image not found: {path}") from exc
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise XrayBenchError(f"sample {sample_id}: cannot read image {path}: {exc}") from exc
    original = rgb.size
    size = target_size(*original, image_size=image_size, max_pixels=max_pixels)
    if size != original:
        rgb = rgb.resize(size, Image.Resampling.BICUBIC)
    return LoadedImage(image=rgb, path=str(path), original_size=original, size=size)


def input_size(
    paths: list[str],
    sample_id: str,
    *,
    image_size: int | tuple[int, int] | None = None,
    max_pixels: int | None = None,
) -> tuple[int, int] | None:
    """(width, height) of the first image as `load_image` hands it to the model: the pixel space of the
    boxes it answers with, recorded on each prediction so that renders map boxes back exactly.
    Reads only the file header; None for a sample without images."""
    if not paths:
        return None
    try:
        with Image.open(paths[0]) as img:
            width, height = img.size
    except FileNotFoundError as exc:
        raise XrayBenchError(f"sample {sample_id}: image not found: {paths[0]}") from exc
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise XrayBenchError(f"sample {sample_id}: cannot read image {paths[0]}: {exc}") from exc
    return target_size(width, height, image_size=image_size, max_pixels=max_pixels)


def to_data_url(image: Image.Image, *, fmt: str = "PNG") -> str:
    """A base64 `data:` URL, the form OpenAI-compatible servers accept for inline images."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    mime = "image/jpeg" if fmt.upper() in ("JPEG", "JPG") else f"image/{fmt.lower()}"
    return f"data:{mime};base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"


def image_data_url(
    path: str | Path,
    sample_id: str,
    *,
    image_size: int | tuple[int, int] | None = None,
    max_pixels: int | None = None,
) -> str:
    """A data URL for a sample image: the file's own bytes when no resize is needed (no re-encoding loss or
    size blow-up for JPEGs), otherwise the resized RGB image as PNG."""
    loaded = load_image(path, sample_id, image_size=image_size, max_pixels=max_pixels)
    if loaded.size == loaded.original_size:
        with Image.open(path) as img:
            fmt = (img.format or "").upper()
        if fmt in ("JPEG", "PNG"):
            data = Path(path).read_bytes()
            mime = "image/jpeg" if fmt == "JPEG" else "image/png"
            return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    return to_data_url(loaded.image)


def image_options(extra: dict[str, object]) -> dict[str, int | None]:
    """`image_size` / `max_pixels` (a `ModelContext`'s image policy), validated, for `load_image(**...)`."""
    out: dict[str, int | None] = {}
    for key in ("image_size", "max_pixels"):
        value = extra.get(key)
        if value is None:
            out[key] = None
            continue
        try:
            number = int(value)  # type: ignore[call-overload]
        except (TypeError, ValueError) as exc:
            raise XrayBenchError(f"model option {key} must be a positive integer, got {value!r}") from exc
        if number <= 0:
            raise XrayBenchError(f"model option {key} must be a positive integer, got {value!r}")
        out[key] = number
    return out
