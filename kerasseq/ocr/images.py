"""Reading word images and fitting them onto the model's fixed canvas.

The same two steps serve dataset preprocessing, prediction and evaluation:
:func:`read_gray` turns a file (any common format, depth or channel count) into one
grayscale uint8 array, and :func:`fit_to_canvas` turns that into the
(height, width) uint8 canvas a recogniser reads.
"""

import io
import os

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from kerasseq.errors import DataError

CANVAS_HEIGHT = 32
CANVAS_WIDTH = 128
MODES = ("resize", "blog")
JPEG_MAGIC = b"\xff\xd8\xff"
#: The most pixels an image may have to be decoded: a word crop has a few thousand, and
#: a small file can hold a huge image (a 439 KB grey PNG decodes to 20000 x 20000, 1.4 GB).
MAX_IMAGE_PIXELS = 25_000_000
#: Files up to this size are decoded without looking at their header first: deflate
#: expands at most 1032:1, so such a PNG holds under 17 million pixels.
_HEADER_CHECK_BYTES = 16 * 1024
#: uint8 pixel -> [0, 1]: what a recogniser's input is scaled by.
PIXEL_SCALE = np.float32(1.0 / 255.0)
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm")

# Word crops are tiny; one decoding thread per process is fastest when we
# parallelise over processes ourselves.
cv2.setNumThreads(1)


def to_gray_uint8(image):
    """Any 2-D image array -> (H, W) uint8 grayscale.

    Accepts (H, W), (H, W, 1), (H, W, 3) BGR and (H, W, 4) BGRA, of dtype bool, uint8,
    uint16 (scaled to 8 bits), or float (taken as [0, 1] when its maximum is at most 1,
    else as [0, 255]). Transparent pixels are composited over white. Raises DataError
    for anything else.
    """
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise DataError(f"unsupported image shape {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise DataError(f"zero-size image {image.shape[:2]}")
    image = _to_uint8(image)
    if image.ndim == 2:
        return image
    if image.shape[2] == 4:
        alpha = image[:, :, 3:4].astype(np.float32) / 255.0
        colour = image[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
        image = np.rint(colour).astype(np.uint8)
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def _to_uint8(image):
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.bool_:
        return image.astype(np.uint8) * 255
    if image.dtype == np.uint16:
        return (image >> 8).astype(np.uint8)
    if np.issubdtype(image.dtype, np.floating):
        finite = np.nan_to_num(image.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        scale = 255.0 if finite.size and finite.max() <= 1.0 else 1.0
        return np.clip(np.rint(finite * scale), 0, 255).astype(np.uint8)
    if np.issubdtype(image.dtype, np.integer):
        return np.clip(image, 0, 255).astype(np.uint8)
    raise DataError(f"unsupported image dtype {image.dtype}")


def decode_gray(data):
    """Encoded image bytes -> (H, W) uint8 grayscale; raises DataError if undecodable.

    OpenCV decodes the common formats fast; Pillow takes what OpenCV cannot (GIF and
    other rarer formats; the first frame of an animation).
    """
    if len(data) == 0:
        raise DataError("empty file")
    if len(data) > _HEADER_CHECK_BYTES:
        _refuse_huge(_header_size(data))
    buffer = np.frombuffer(data, dtype=np.uint8)
    # JPEG has no alpha and no 16-bit: let libjpeg decode straight to gray (MJSynth's
    # colour JPEGs then skip chroma upsampling and colour conversion)
    flags = cv2.IMREAD_GRAYSCALE if data[:3] == JPEG_MAGIC else cv2.IMREAD_UNCHANGED
    try:
        image = cv2.imdecode(buffer, flags)
    except cv2.error:
        image = None
    if image is None:
        image = _decode_with_pillow(data)
    return to_gray_uint8(image)


def _header_size(data):
    """(width, height) from an image's header, without decoding it; None if Pillow
    does not know the format."""
    try:
        with Image.open(io.BytesIO(data)) as picture:
            return picture.size
    except Image.DecompressionBombError as error:  # Pillow's own, larger limit
        raise DataError(f"image is larger than the {MAX_IMAGE_PIXELS:,} pixels kerasseq decodes ({error}); "
                        f"crop or scale it first") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None


def _refuse_huge(size):
    if size and size[0] * size[1] > MAX_IMAGE_PIXELS:
        raise DataError(f"image of {size[0]}x{size[1]} pixels is larger than the {MAX_IMAGE_PIXELS:,} pixels kerasseq "
                        f"decodes (a decompression bomb?); crop or scale it first")


def _decode_with_pillow(data):
    try:
        with Image.open(io.BytesIO(data)) as picture:
            _refuse_huge(picture.size)
            picture.seek(0)
            rgba = picture.convert("RGBA")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise DataError(f"not a readable image ({type(error).__name__})") from None
    return cv2.cvtColor(np.asarray(rgba), cv2.COLOR_RGBA2BGRA)


def read_gray(path):
    """Image file -> (H, W) uint8 grayscale; raises DataError naming what is wrong."""
    try:
        with open(path, "rb", buffering=0) as handle:
            data = handle.read()
    except FileNotFoundError:
        raise DataError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise DataError(f"is a folder, not an image: {path}") from None
    except OSError as error:
        raise DataError(f"cannot read {path}: {error.strerror}") from None
    return decode_gray(data)


def is_image_path(path):
    """True if ``path`` has one of the image extensions kerasseq reads."""
    return os.path.splitext(str(path))[1].lower() in IMAGE_EXTENSIONS


def background_level(gray):
    """(Upper) median of the border pixels of a (H, W) uint8 image: its likely background."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    middle = len(border) // 2
    return int(np.partition(border, middle)[middle])  # 4x faster than np.median


def fit_to_canvas(gray, mode="resize", height=CANVAS_HEIGHT, width=CANVAS_WIDTH):
    """(H, W) uint8 grayscale -> (height, width) uint8 canvas; another image array is
    first converted by :func:`to_gray_uint8`.

    ``blog`` (the reference): an image larger than the canvas in either direction is
    refused with DataError; others are padded with white (255) at the bottom and right.
    ``resize`` (default): scaled, keeping the aspect ratio, to the canvas height, or
    down to the canvas width when that makes it too wide (then centred vertically);
    padded on the right with the image's own background level.
    """
    if not (isinstance(gray, np.ndarray) and gray.ndim == 2 and gray.dtype == np.uint8 and gray.size):
        gray = to_gray_uint8(gray)  # a file's gray image (read_gray) is taken as it is
    rows, columns = gray.shape
    if mode == "blog":
        if rows > height or columns > width:
            raise DataError(f"larger than {height}x{width} ({rows}x{columns}); blog mode drops it")
        canvas = np.full((height, width), 255, dtype=np.uint8)
        canvas[:rows, :columns] = gray
        return canvas
    if mode != "resize":
        raise DataError(f"unknown preprocessing mode {mode!r}; use one of {', '.join(MODES)}")
    scale = height / rows
    new_columns = max(1, round(columns * scale))
    new_rows = height
    if new_columns > width:
        scale = width / columns
        new_columns = width
        new_rows = max(1, min(height, round(rows * scale)))
    if (new_rows, new_columns) != (rows, columns):
        # area averaging only where it matters (strong shrinking): it is 3x slower
        interpolation = cv2.INTER_AREA if scale < 0.5 else cv2.INTER_LINEAR
        gray = cv2.resize(gray, (new_columns, new_rows), interpolation=interpolation)
    canvas = np.full((height, width), background_level(gray), dtype=np.uint8)
    top = (height - new_rows) // 2
    canvas[top : top + new_rows, :new_columns] = gray
    return canvas


def load_canvas(path, mode="resize"):
    """Image file -> (32, 128) uint8 canvas: :func:`read_gray` then :func:`fit_to_canvas`."""
    return fit_to_canvas(read_gray(path), mode)


def normalise(images):
    """uint8 images (any shape) -> float32 in [0, 1], the recogniser's input scale."""
    return images.astype(np.float32) * PIXEL_SCALE
