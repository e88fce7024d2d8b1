"""Image loading for models: RGB conversion, resizing, size mapping for boxes, clear errors, data URLs."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from PIL import Image

from xraybench.errors import XrayBenchError
from xraybench.models.images import (
    DEEPMEDIX_IMAGE_SIZE,
    DEEPMEDIX_MAX_PIXELS,
    image_data_url,
    image_options,
    load_image,
    target_size,
    to_data_url,
)


def test_target_size() -> None:
    assert target_size(2000, 1000) == (2000, 1000)
    assert target_size(2000, 1000, image_size=DEEPMEDIX_IMAGE_SIZE) == (512, 512)
    w, h = target_size(2000, 1000, max_pixels=DEEPMEDIX_MAX_PIXELS)
    assert w * h <= DEEPMEDIX_MAX_PIXELS and abs(w / h - 2.0) < 0.01
    assert target_size(300, 200, max_pixels=DEEPMEDIX_MAX_PIXELS) == (300, 200)


def test_load_converts_to_rgb_and_maps_boxes_back(tmp_path: Path) -> None:
    path = tmp_path / "gray.png"
    Image.new("L", (1024, 768), color=10).save(path)
    loaded = load_image(path, "s1", image_size=512)
    assert loaded.image.mode == "RGB" and loaded.size == (512, 512) and loaded.original_size == (1024, 768)
    assert loaded.to_original([0, 0, 256, 512]) == [0.0, 0.0, 512.0, 768.0]


def test_unreadable_and_missing_images_name_sample_and_path(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(XrayBenchError, match=r"sample s7: cannot read image .*bad\.jpg"):
        load_image(bad, "s7")
    with pytest.raises(XrayBenchError, match=r"sample s8: image not found: .*missing\.png"):
        load_image(tmp_path / "missing.png", "s8")


def test_data_urls_keep_original_bytes_unless_resized(tmp_path: Path) -> None:
    path = tmp_path / "x.jpg"
    Image.new("RGB", (64, 48), color=(5, 6, 7)).save(path, format="JPEG")
    url = image_data_url(path, "s1")
    assert url == "data:image/jpeg;base64," + base64.b64encode(path.read_bytes()).decode()
    resized = image_data_url(path, "s1", image_size=32)
    assert resized.startswith("data:image/png;base64,")
    assert Image.open(io.BytesIO(base64.b64decode(resized.split(",", 1)[1]))).size == (32, 32)
    assert to_data_url(Image.new("RGB", (2, 2)), fmt="JPEG").startswith("data:image/jpeg;base64,")


def test_image_options_validation() -> None:
    assert image_options({"image_size": "512"}) == {"image_size": 512, "max_pixels": None}
    with pytest.raises(XrayBenchError, match="max_pixels"):
        image_options({"max_pixels": -1})
