import io

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from kerasseq.errors import DataError
from kerasseq.ocr.images import decode_gray, fit_to_canvas, read_gray, to_gray_uint8

pytestmark = pytest.mark.backend_free  # exercises no Keras backend: `make test` runs it once


def encode(image, format, **options):
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def test_blog_mode_pads_with_white_at_bottom_and_right():
    gray = np.arange(20 * 100, dtype=np.uint16).reshape(20, 100).astype(np.uint8)
    canvas = fit_to_canvas(gray, "blog")
    assert canvas.shape == (32, 128) and canvas.dtype == np.uint8
    np.testing.assert_array_equal(canvas[:20, :100], gray)
    assert (canvas[20:] == 255).all() and (canvas[:, 100:] == 255).all()


@pytest.mark.parametrize("shape", [(33, 50), (20, 129), (40, 200)])
def test_blog_mode_drops_images_larger_than_the_canvas(shape):
    with pytest.raises(DataError, match="blog mode drops it"):
        fit_to_canvas(np.zeros(shape, np.uint8), "blog")


def test_blog_mode_keeps_an_image_of_exactly_the_canvas_size():
    gray = np.full((32, 128), 7, np.uint8)
    np.testing.assert_array_equal(fit_to_canvas(gray, "blog"), gray)


def test_resize_mode_scales_to_height_32_and_pads_with_background():
    gray = np.full((16, 20), 200, np.uint8)
    gray[4:12, 5:15] = 10
    canvas = fit_to_canvas(gray, "resize")
    assert canvas.shape == (32, 128)
    np.testing.assert_array_equal(canvas[:, :40], cv2.resize(gray, (40, 32), interpolation=cv2.INTER_LINEAR))
    assert (canvas[:, 40:] == 200).all()


def test_resize_mode_scales_too_wide_images_down_to_the_width_and_centres_them():
    gray = np.full((32, 512), 255, np.uint8)
    gray[8:24, 64:192] = 0
    canvas = fit_to_canvas(gray, "resize")  # scaled by 1/4 to 8x128, rows 12..19
    assert (canvas[14:18, 16:48] == 0).all() and (canvas[12:20, 52:] == 255).all()
    assert (canvas[:12] == 255).all() and (canvas[20:] == 255).all()


def test_rgba_transparency_becomes_white_and_colour_becomes_gray():
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[:2, :, 3] = 255  # top half opaque black, bottom half transparent
    gray = decode_gray(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert (gray[:2] == 0).all() and (gray[2:] == 255).all()
    blue = np.zeros((2, 2, 3), np.uint8)
    blue[..., 2] = 255  # RGB blue
    assert decode_gray(encode(Image.fromarray(blue), "PNG"))[0, 0] == 29  # 0.114 * 255


def test_sixteen_bit_palette_cmyk_and_animated_gif_are_read():
    deep = np.full((5, 6), 40000, np.uint16)
    assert decode_gray(cv2.imencode(".png", deep)[1].tobytes())[0, 0] == 40000 >> 8
    palette = Image.fromarray(np.full((5, 6), 128, np.uint8)).convert("P")
    assert decode_gray(encode(palette, "PNG")).shape == (5, 6)
    cmyk = Image.new("CMYK", (8, 4), (0, 0, 0, 255))  # full black ink
    assert decode_gray(encode(cmyk, "JPEG")).max() < 40
    frames = [Image.new("L", (7, 3), level) for level in (10, 250)]
    gif = io.BytesIO()
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:])
    first = decode_gray(gif.getvalue())
    assert first.shape == (3, 7) and first.max() < 30


def test_one_pixel_image_fills_a_canvas():
    canvas = fit_to_canvas(decode_gray(encode(Image.new("L", (1, 1), 0), "PNG")))
    assert canvas.shape == (32, 128) and canvas[:, 0].max() == 0


@pytest.mark.parametrize("data, message", [
    (b"", "empty file"),
    (b"hello, I am a text file\n", "not a readable image"),
    (encode(Image.new("L", (50, 20), 0), "PNG")[:40], "not a readable image"),
])
def test_unreadable_bytes_are_refused_with_a_reason(data, message):
    with pytest.raises(DataError, match=message):
        decode_gray(data)


def test_missing_file_and_folder_are_named(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_gray(tmp_path / "nope.png")
    with pytest.raises(DataError, match="is a folder"):
        read_gray(tmp_path)


def test_zero_size_and_odd_shapes_are_refused():
    with pytest.raises(DataError, match="zero-size"):
        to_gray_uint8(np.zeros((0, 5), np.uint8))
    with pytest.raises(DataError, match="unsupported image shape"):
        to_gray_uint8(np.zeros((4, 4, 2), np.uint8))


image_arrays = st.one_of(
    hnp.arrays(
        dtype=st.sampled_from([np.uint8, np.uint16, np.float32, np.float64, np.int32, np.bool_]),
        shape=st.tuples(st.integers(0, 300), st.integers(0, 300)).flatmap(
            lambda hw: st.sampled_from([hw, hw + (1,), hw + (2,), hw + (3,), hw + (4,)])),
    ),
    hnp.arrays(dtype=np.uint8, shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=40)),
)


@settings(max_examples=150, deadline=None)
@given(image_arrays, st.sampled_from(["resize", "blog"]))
def test_any_array_gives_a_canvas_or_a_clear_refusal(image, mode):
    try:
        canvas = fit_to_canvas(image, mode)
    except DataError as error:
        assert str(error)
        return
    assert canvas.shape == (32, 128) and canvas.dtype == np.uint8


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_never_crash_the_decoder(data):
    try:
        gray = decode_gray(data)
    except DataError:
        return
    assert gray.dtype == np.uint8 and gray.ndim == 2


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 2000), st.data())
def test_truncated_png_and_jpeg_never_crash(cut, data):
    image = Image.fromarray(np.random.default_rng(cut).integers(0, 255, (20, 60), dtype=np.uint8))
    encoded = encode(image, data.draw(st.sampled_from(["PNG", "JPEG"])))
    try:
        decode_gray(encoded[: min(cut, len(encoded) - 1)])
    except DataError:
        return


def test_a_decompression_bomb_is_refused_before_it_is_decoded():
    import resource

    from kerasseq.ocr.images import MAX_IMAGE_PIXELS, decode_gray

    # a 20000 x 20000 grey PNG: a few hundred KB on disk, 400 million pixels decoded
    bomb = io.BytesIO()
    Image.new("L", (20000, 20000), 128).save(bomb, format="PNG", optimize=False)
    assert len(bomb.getvalue()) < 1_000_000 and 20000 * 20000 > MAX_IMAGE_PIXELS
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(DataError, match=r"larger than the 25,000,000 pixels kerasseq decodes"):
        decode_gray(bomb.getvalue())
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 100_000  # KiB: nothing was decoded
    gif = io.BytesIO()
    Image.new("L", (6000, 6000), 0).save(gif, format="GIF")
    with pytest.raises(DataError, match="6000x6000 pixels is larger than the 25,000,000"):
        decode_gray(gif.getvalue())
    png = io.BytesIO()
    Image.new("L", (6000, 5000), 255).save(png, format="PNG")
    with pytest.raises(DataError, match="6000x5000 pixels"):
        decode_gray(png.getvalue())
    small = io.BytesIO()
    Image.new("L", (4000, 3000), 255).save(small, format="PNG")
    assert decode_gray(small.getvalue()).shape == (3000, 4000)  # 12 million pixels: under the limit
