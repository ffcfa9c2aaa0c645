"""A contact sheet: word images with what the model read, as one PNG."""

import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROW_HEIGHT = 40
IMAGE_WIDTH = 256
TEXT_WIDTH = 380


def draw_sheet(canvases, captions, png_path, columns=2):
    """Save a grid of (32, 128) uint8 ``canvases`` (shown at 2x) each beside its
    caption string; returns the sheet as an (H, W, 3) uint8 array."""
    count = len(canvases)
    rows = max(1, -(-count // columns))
    cell_width = IMAGE_WIDTH + TEXT_WIDTH
    sheet = Image.new("RGB", (columns * cell_width, rows * ROW_HEIGHT), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=16)
    for index, (canvas, caption) in enumerate(zip(canvases, captions)):
        x, y = (index % columns) * cell_width, (index // columns) * ROW_HEIGHT
        image = Image.fromarray(np.asarray(canvas).reshape(32, 128)).resize((IMAGE_WIDTH, 64 if ROW_HEIGHT >= 64 else ROW_HEIGHT - 4))
        sheet.paste(image.convert("RGB"), (x, y + 2))
        draw.text((x + IMAGE_WIDTH + 8, y + ROW_HEIGHT // 2 - 9), caption, fill="black", font=font)
    sheet.save(png_path)
    return np.asarray(sheet)
