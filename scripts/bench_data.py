"""Benchmark data preparation: rendering and preprocessing images/s, 1 worker vs all cores,
against a single-process loop written the way the reference does it (cv2 read -> gray -> pad)."""

import os
import shutil
import tempfile
import time

from kerasseq.cli import make_parser, parse, run


def reference_loop(paths):
    """The reference's preprocessing: cv2.imread, BGR->gray, pad with white to 32x128,
    drop larger images. Returns (n, 32, 128, 1) uint8."""
    import cv2
    import numpy as np

    canvases = []
    for path in paths:
        gray = cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2GRAY)
        rows, columns = gray.shape
        if rows > 32 or columns > 128:
            continue
        canvases.append(np.pad(gray, ((0, 32 - rows), (0, 128 - columns)), constant_values=255))
    return np.expand_dims(np.array(canvases), axis=-1)


def timed(function, *args, **kwargs):
    """(seconds, result) of one call."""
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - started, result


def main(argv=None):
    parser = make_parser(__doc__)
    parser.add_argument("--count", type=int, default=20_000, help="images to preprocess per measurement")
    parser.add_argument("--render-count", type=int, default=3000, help="images to render per measurement")
    parser.add_argument("--workers", type=int, default=0, help="'all cores' worker count (0: os.cpu_count())")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it (default: a temporary folder)")
    args = parse(parser, argv)

    from data_prep.building import PreprocessConfig, build_dataset
    from data_prep.rendering import RenderOptions, render_dataset
    from kerasseq.data.sources import find_source

    cores = args.workers or os.cpu_count() or 1
    work = args.keep or tempfile.mkdtemp(prefix="kerasseq-bench-")
    rows = []
    try:
        for workers in (1, cores):
            seconds, _ = timed(render_dataset, os.path.join(work, f"render{workers}"), args.render_count,
                               seed=0, workers=workers, progress=False)
            rows.append(("render (png)", workers, args.render_count / seconds, args.render_count / seconds))
        # half PNG, half JPEG word crops, as MJSynth-like input; every file read once so
        # all measurements see a warm page cache
        source = os.path.join(work, "source")
        half = args.count // 2
        render_dataset(os.path.join(source, "png"), half, seed=1, workers=cores, progress=False)
        render_dataset(os.path.join(source, "jpg"), args.count - half, seed=2, workers=cores, progress=False,
                       options=RenderOptions(image_format="jpg"))
        with open(os.path.join(source, "labels.tsv"), "w", encoding="utf-8") as handle:
            for part in ("png", "jpg"):
                for line in open(os.path.join(source, part, "labels.tsv"), encoding="utf-8"):
                    handle.write(f"{part}/{line}")
        paths = [item.path for item in find_source(source).items]
        for path in paths:
            with open(path, "rb") as image:
                image.read()
        reference_seconds, canvases = timed(reference_loop, paths)
        reference_rate = len(paths) / reference_seconds
        rows.append(("reference loop (cv2 read, gray, pad)", 1, reference_rate, reference_rate))
        for workers in (1, cores):
            for mode in ("blog", "resize"):
                out = os.path.join(work, f"data-{mode}-{workers}")
                shutil.rmtree(out, ignore_errors=True)
                timings = {}
                seconds, _ = timed(build_dataset, source, out, PreprocessConfig(mode=mode, workers=workers),
                                   progress=False, timings=timings)
                rows.append((f"preprocess.py --mode {mode}", workers, len(paths) / timings["images_s"],
                             len(paths) / seconds))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"{len(paths)} word crops (half PNG, half JPEG), {os.cpu_count()} cores. images/s: start-up (listing, "
          "planning, worker start) excluded; whole run: included")
    print(f"| {'step':38s} | workers | images/s | whole run | vs reference loop |")
    print(f"|{'-' * 40}|---------|----------|-----------|-------------------|")
    for step, workers, rate, whole in rows:
        ratio = f"{rate / reference_rate:.2f}x" if step.startswith("preprocess") else ""
        print(f"| {step:38s} | {workers:7d} | {rate:8.0f} | {whole:9.0f} | {ratio:17s} |")
    return 0


if __name__ == "__main__":
    run(main)
