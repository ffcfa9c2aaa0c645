"""Speed ratios from alternating runs: the order of the measurements, the faster peer beside
each run as the base, medians and ranges, and failed backends left out."""

import pytest

from kerasseq.benchmarks.speed_ratios import alternate, format_ratio, ratio_rows

pytestmark = pytest.mark.backend_free  # exercises no Keras backend: `make test` runs it once


def peer(train, infer):
    return {"peer_train_img_s": train, "peer_infer_img_s": infer}


def test_runs_alternate_peer_and_ours_starting_and_ending_with_the_peer():
    calls = []
    peers, ours = alternate(lambda: calls.append("peer") or len(calls), lambda: calls.append("ours") or len(calls), 3)
    assert calls == ["peer", "ours", "peer", "ours", "peer", "ours", "peer"]
    assert peers == [1, 3, 5, 7] and ours == [2, 4, 6]


def test_each_run_is_divided_by_the_faster_peer_beside_it_and_summarised_by_median_and_range():
    peers = [{"float32": peer(100, 200), "mixed_bfloat16": peer(300, 800)},
             {"float32": peer(50, 200), "mixed_bfloat16": peer(200, 400)},  # a slow spell: the neighbours count
             {"float32": peer(100, 100), "mixed_bfloat16": peer(300, 400)},
             {"float32": peer(80, 100), "mixed_bfloat16": peer(300, 400)}]
    ours = [{("jax", "mixed_bfloat16"): {"train_img_s": 150, "infer_img_s": 400}},
            {("jax", "mixed_bfloat16"): {"train_img_s": 330, "infer_img_s": 200}},
            {("jax", "mixed_bfloat16"): {"train_img_s": 240, "infer_img_s": 600}}]
    (row,), failed = ratio_rows(peers, ours)
    assert failed == [] and (row["backend"], row["precision"], row["runs"]) == ("jax", "mixed_bfloat16", 3)
    # like for like: the bfloat16 peer, the faster of the two beside each run (300, 300, 300)
    assert row["train_ratio"] == {"median": 0.8, "min": 0.5, "max": 1.1}
    # infer bases 800, 400, 400 -> 0.5, 0.5, 1.5
    assert row["infer_ratio"] == {"median": 0.5, "min": 0.5, "max": 1.5}
    # against the float32 peer: train bases 100, 100, 100 -> 1.5, 3.3, 2.4
    assert row["train_ratio_float32"] == pytest.approx({"median": 2.4, "min": 1.5, "max": 3.3})
    assert row["train_img_s"] == 240 and row["peer_train_img_s"] == 300 and row["peer_infer_img_s"] == 400


def test_a_backend_that_failed_in_any_run_is_left_out_and_named():
    peers = [{"float32": peer(10, 10)}] * 3
    ours = [{("tensorflow", "float32"): {"train_img_s": 10, "infer_img_s": 20}, ("torch", "float32"): None},
            {("tensorflow", "float32"): {"train_img_s": 10, "infer_img_s": 20},
             ("torch", "float32"): {"train_img_s": 10, "infer_img_s": 20}}]
    rows, failed = ratio_rows(peers, ours)
    assert [row["backend"] for row in rows] == ["tensorflow"] and failed == [("torch", "float32")]
    assert rows[0]["infer_ratio"] == {"median": 2.0, "min": 2.0, "max": 2.0}


def test_a_ratio_prints_its_median_and_range():
    assert format_ratio({"median": 0.934, "min": 0.9, "max": 0.951}) == "0.93 (0.90–0.95)"
    assert format_ratio({"median": 1.2, "min": 1.2, "max": 1.2}) == "1.20"
