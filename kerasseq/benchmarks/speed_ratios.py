"""Speed ratios ours/peer from alternating runs: the peer, then ours, then the peer again,
repeated, so that a slow spell on a shared machine lands on both sides.

Run ``r`` of ours sits between peer measurements ``r`` and ``r + 1``; its ratio is taken
against the faster of the two (load only slows a run, so this errs against us). A row
gives the median ratio over the runs and its range, like for like (the peer in the row's
precision: ``torch.autocast`` for ``mixed_bfloat16``) and against the float32 peer.
"""

import numpy as np

PEER_KEYS = {"train": "peer_train_img_s", "infer": "peer_infer_img_s"}
OUR_KEYS = {"train": "train_img_s", "infer": "infer_img_s"}


def alternate(measure_peer, measure_ours, repeats):
    """Measure ``peer, ours, peer, ours, ..., peer``: ``repeats`` calls of ``measure_ours()``
    and ``repeats + 1`` of ``measure_peer()``. -> (peers, ours), lists of their results."""
    peers, ours = [measure_peer()], []
    for _ in range(repeats):
        ours.append(measure_ours())
        peers.append(measure_peer())
    return peers, ours


def spread(values):
    """-> {"median", "min", "max"} of a list of numbers."""
    return {"median": float(np.median(values)), "min": float(min(values)), "max": float(max(values))}


def ratio_rows(peers, ours):
    """Summarise alternating runs of one preset and batch size.

    ``peers``: R + 1 dicts, precision -> {"peer_train_img_s", "peer_infer_img_s"} (images/s),
    with "float32" always present. ``ours``: R dicts, (backend, precision) -> the backend's
    {"train_img_s", "infer_img_s", ...} in images/s, or None where that measurement failed.
    -> (rows, failed): one row per (backend, precision) measured in every run, with
    ``{kind}_img_s`` and the peer's speeds (medians over runs) and ``{kind}_ratio`` (like
    for like) and ``{kind}_ratio_float32`` (against the float32 peer) as :func:`spread`
    dicts, for kind train and infer; ``failed``: the (backend, precision) pairs left out."""
    rows, failed = [], []
    for key in ours[0]:
        runs = [run[key] for run in ours]
        if any(run is None for run in runs):
            failed.append(key)
            continue
        backend, precision = key
        row = {"backend": backend, "precision": precision, "runs": len(runs), "last": runs[-1]}
        for kind in ("train", "infer"):
            for label, peer_precision in (("ratio", precision), ("ratio_float32", "float32")):
                bases = [max(peers[r][peer_precision][PEER_KEYS[kind]], peers[r + 1][peer_precision][PEER_KEYS[kind]])
                         for r in range(len(runs))]
                row[f"{kind}_{label}"] = spread([run[OUR_KEYS[kind]] / base for run, base in zip(runs, bases)])
                if label == "ratio":
                    row[f"peer_{kind}_img_s"] = spread(bases)["median"]
            row[f"{kind}_img_s"] = spread([run[OUR_KEYS[kind]] for run in runs])["median"]
        rows.append(row)
    return rows, failed


def format_ratio(ratio):
    """A :func:`spread` dict -> "0.93 (0.90–0.95)", or "0.93" from a single run."""
    if ratio["min"] == ratio["max"]:
        return f"{ratio['median']:.2f}"
    return f"{ratio['median']:.2f} ({ratio['min']:.2f}–{ratio['max']:.2f})"
