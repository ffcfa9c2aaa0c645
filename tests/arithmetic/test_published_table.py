"""The README's arithmetic table is the one its committed run log gives."""

import os
import re
import shutil

import pytest

from kerasseq.arithmetic import experiments as arithmetic
from tests.helpers import ROOT

pytestmark = pytest.mark.backend_free

#: the README's column and operation names -> the experiments'
COLUMNS = ("mlp", "nac", "nalu", "nalu_stable", "nalu_stable_1x", "nau_nmu")
OPERATIONS = {"a+b": "a+b", "a−b": "a-b", "a×b": "a*b", "a/b": "a/b", "a²": "a^2", "√a": "sqrt(a)"}


def readme_rows():
    """(task, operation) -> the README's six cells, e.g. "65% (43–82)"."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    rows = {}
    for line in lines:
        match = re.match(r"\| (static|recurrent) \| (\S+) \|(.*)\|$", line)
        if match:
            rows[match[1], OPERATIONS[match[2]]] = [cell.strip() for cell in match[3].split("|")]
    return rows


def test_the_readme_table_is_what_the_committed_run_log_gives(tmp_path):
    log_path = tmp_path / "runs.jsonl"
    shutil.copy(os.path.join(ROOT, "docs", "arithmetic_runs.jsonl"), log_path)
    log = arithmetic.RunLog(str(log_path))
    budget = arithmetic.Budget(steps=10000, batch_size=128, seeds=20, first_seed=100)
    expected = readme_rows()
    assert len(expected) == 12
    for kind in ("static", "recurrent"):
        # every run is in the log: nothing is trained, the table is rebuilt
        for row in arithmetic.simple_function_table(kind, budget, log=log):
            cell = f"{row['success']:.0%} ({row['success_low']:.0%}–{row['success_high']:.0%})".replace("%)", ")")
            cell = re.sub(r"\((\d+)%–", r"(\1–", cell)
            assert expected[kind, row["operation"]][COLUMNS.index(row["model"])] == cell, (kind, row["operation"], row["model"])
