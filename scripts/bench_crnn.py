"""CRNN speed on each Keras backend against the same network written directly in PyTorch.

One table from one invocation: per backend, precision, preset and batch size, the ratio
ours/peer like for like (the plain PyTorch peer in the row's precision: float32, or
torch.autocast in bfloat16) and against the float32 peer, each the median of alternating
runs (peer, ours, peer, ...; each ratio against the faster peer beside it) with its range;
then training and inference images/s (median of repeated steps after warm-up) and each
row's peak memory. Then decoding speed (greedy and beam search sequences/s, lexicon words/s with a
100k+-word lexicon, on one core) and `fit` on a streamed dataset folder against the same
images in memory, with the loader's own share of a streamed epoch. Every measurement runs
in its own process, so peak memory is per row.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from functools import partial

from kerasseq.backend import BACKENDS, PRECISIONS
from kerasseq.benchmarks.speed_ratios import alternate, format_ratio, ratio_rows
from kerasseq.cli import make_parser, parse, run
from kerasseq.errors import KerasseqError
from kerasseq.ocr.presets import PRESETS


def worker(args):
    """Measure one thing in this process and print it as one JSON line."""
    from kerasseq import accel

    if accel.wanted():  # ours as the scripts run it: with kerasseq's speed routes, on before Keras loads
        accel.enable()
    from kerasseq.benchmarks import crnn_speed as bench

    if args.worker == "keras":
        result = bench.keras_speeds(args.preset, args.batch, args.steps, precision=args.precision)
    elif args.worker == "peer":
        result = bench.peer_speeds(args.preset, args.batch, args.steps, precision=args.precision)
    elif args.worker == "decode":
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
        from data_prep.rendering import default_lexicon

        words = default_lexicon()
        lexicon = words + [w.capitalize() for w in words]  # 73k words -> 100k+ distinct
        result = bench.decoding_speeds(words[:: max(1, len(words) // 1000)], lexicon)
    else:
        result = bench.streamed_vs_memory(args.dataset, batch=args.batch)
    result["peak_memory_mb"], result["device"] = bench.peak_memory_mb()
    result["allocator"] = bench.memory_allocator()
    result["routes"] = accel.enabled()
    print(json.dumps(result))
    return 0


def measure(kind, backend, required=True, **options):
    """Run one worker process -> its JSON result, also echoed to stderr as it comes. A
    failed worker raises, or where not ``required`` is reported on stderr -> None."""
    command = [sys.executable, os.path.abspath(__file__), "--worker", kind]
    for name, value in options.items():
        command += [f"--{name.replace('_', '-')}", str(value)]
    print(f"measuring {kind} {backend} {options} ...", file=sys.stderr, flush=True)
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "KERAS_BACKEND": backend})
    if done.returncode:
        message = f"{kind} on {backend} {options} failed: {done.stderr.strip()[-500:]}"
        if required:
            raise KerasseqError(message)
        print(message, file=sys.stderr, flush=True)
        return None
    result = done.stdout.strip().splitlines()[-1]
    print(f"  -> {result}", file=sys.stderr, flush=True)
    return json.loads(result)


def measure_peer(precisions, **options):
    """The PyTorch peer in each of ``precisions`` -> {precision: its speeds}."""
    return {precision: measure("peer", "torch", precision=precision, **options) for precision in precisions}


def measure_ours(backends, precisions, **options):
    """kerasseq on each backend and precision -> {(backend, precision): speeds, or None where
    it failed}: a backend that fails in one precision is reported and left out, not the run lost."""
    return {(backend, precision): measure("keras", backend, required=False, precision=precision, **options)
            for precision in precisions for backend in backends}


def make_dataset(folder, count):
    """Render and preprocess ``count`` words into ``folder``/data for the streaming row."""
    from data_prep.building import PreprocessConfig, build_dataset
    from data_prep.rendering import render_dataset

    render_dataset(os.path.join(folder, "words"), count, seed=0, progress=False)
    build_dataset(os.path.join(folder, "words"), os.path.join(folder, "data"), PreprocessConfig(val_every=0), progress=False)
    return os.path.join(folder, "data")


def main(argv=None):
    parser = make_parser(__doc__, backend=False)
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--presets", nargs="+", choices=[name for name, preset in PRESETS.items() if preset["kind"] == "crnn"], default=["blog", "small"])
    parser.add_argument("--batches", nargs="+", type=int, default=[16, 64])
    parser.add_argument("--precisions", nargs="+", choices=PRECISIONS, default=["float32"],
                        help="dtype policies to measure ours in, each against the float32 peer and the peer in the "
                             "same precision (torch.autocast); mixed_bfloat16 is fast only where the CPU has "
                             "bfloat16 instructions (AVX512-BF16, AMX) or on a GPU")
    parser.add_argument("--repeats", type=int, default=3,
                        help="alternating runs (peer, ours, peer, ...) behind each ratio's median and range")
    parser.add_argument("--steps", type=int, default=8, help="timed steps per measurement (after 3 warm-up steps)")
    parser.add_argument("--stream-images", type=int, default=2048, help="images in the streamed-vs-memory dataset")
    parser.add_argument("--quick", action="store_true", help="small preset, batch 16, 3 steps, 256 streamed images, 1 run")
    parser.add_argument("--speed-only", action="store_true",
                        help="only the training/inference table: no decoding or streamed-fit rows")
    parser.add_argument("--json", help="also write every row as a list of objects")
    parser.add_argument("--worker", choices=("keras", "peer", "decode", "stream"), help=argparse.SUPPRESS)
    parser.add_argument("--preset", help=argparse.SUPPRESS)
    parser.add_argument("--precision", default="float32", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--dataset", help=argparse.SUPPRESS)
    args = parse(parser, argv)
    if args.worker:
        return worker(args)
    if args.quick:
        args.presets, args.batches, args.steps, args.stream_images, args.repeats = ["small"], [16], 3, 256, 1

    rows, failed = [], []
    for preset in args.presets:
        for batch in args.batches:
            peer_precisions = sorted({"float32", *args.precisions})
            options = {"preset": preset, "batch": batch, "steps": args.steps}
            peers, ours = alternate(partial(measure_peer, peer_precisions, **options),
                                    partial(measure_ours, args.backends, args.precisions, **options), args.repeats)
            summary, left_out = ratio_rows(peers, ours)
            rows += [{**row, "preset": preset, "batch": batch, "peer_device": peers[0]["float32"]["device"],
                      "peer_allocator": peers[0]["float32"]["allocator"]} for row in summary]
            failed += [f"{backend} {precision} {preset} batch {batch}" for backend, precision in left_out]
    extras = {}
    if not args.speed_only:
        with tempfile.TemporaryDirectory() as folder:
            dataset = make_dataset(folder, args.stream_images)
            extras = {backend: {**measure("decode", backend), **measure("stream", backend, dataset=dataset, batch=64)}
                      for backend in args.backends}

    print(f"Ours/peer, median of {args.repeats} alternating runs (range); like for like is against the peer in the "
          "row's precision (torch.autocast for mixed_bfloat16).\n")
    print("| backend | precision | preset | batch | train ours/peer, like for like | infer ours/peer, like for like "
          "| train, infer ours/peer against the float32 peer | train img/s | infer img/s | peer train img/s "
          "| peer infer img/s | peak MiB (GPU memory on a GPU) | device (ours, peer) |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['backend']} | {r['precision']} | {r['preset']} | {r['batch']} | {format_ratio(r['train_ratio'])} "
              f"| {format_ratio(r['infer_ratio'])} | {format_ratio(r['train_ratio_float32'])}, "
              f"{format_ratio(r['infer_ratio_float32'])} | {r['train_img_s']:.1f} | {r['infer_img_s']:.1f} "
              f"| {r['peer_train_img_s']:.1f} | {r['peer_infer_img_s']:.1f} | {r['last']['peak_memory_mb']:.0f} "
              f"| {r['last']['device']}, {r['peer_device']} |")
    if rows:
        allocators = sorted({f"{r['last']['allocator']}, {r['peer_allocator']}" for r in rows})
        print(f"\nmemory allocator (ours, peer): {'; '.join(allocators)}")
        routes = {r["backend"]: ", ".join(r["last"]["routes"]) or "none" for r in rows}
        print("kerasseq speed routes: " + "; ".join(f"{backend}: {names}" for backend, names in routes.items()))
    if failed:
        print(f"\nfailed (see above): {'; '.join(failed)}")
    if extras:
        print("\n| backend | greedy seq/s (1 core) | beam-10 seq/s (1 core) | lexicon words/s (1 core) "
              "| fit streamed img/s | fit in memory img/s | streamed/memory | loading, % of a streamed epoch |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for backend, e in extras.items():
            print(f"| {backend} | {e['greedy_seq_s']:.0f} | {e['beam_seq_s']:.0f} | {e['lexicon_words_s']:.0f} "
                  f"| {e['streamed_img_s']:.1f} | {e['memory_img_s']:.1f} | {e['streamed_share']:.2f} "
                  f"| {100 * e['loading_share']:.2f} |")
        print(f"\nlexicon: {extras[args.backends[0]]['lexicon_size']} words")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows + [{"backend": b, "kind": "decoding_and_streaming", **e} for b, e in extras.items()],
                      handle, indent=1)
    return 0


if __name__ == "__main__":
    run(main)
