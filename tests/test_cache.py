"""Phase-1 training results are reused across workflows through Snakemake's output cache."""

from __future__ import annotations

import os

import numpy as np

from snakemake_run import TINY, make_checkout, snakemake

HISTORY = "results/phase1/benign/seed0/history.csv"


def test_second_workflow_takes_training_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SNAKEMAKE_OUTPUT_CACHE", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    first = make_checkout(tmp_path / "first", TINY)
    second = make_checkout(tmp_path / "second", TINY)
    snakemake(first, "--cache", "train_phase1", "--", HISTORY)
    assert len(os.listdir(tmp_path / "cache")) == 5  # history, its provenance, 3 checkpoints
    result = snakemake(second, "--cache", "train_phase1", "--", HISTORY)
    assert f"output file {HISTORY} from cache" in result.stdout + result.stderr
    log = second / "logs/train_phase1/benign-seed0.log"
    assert "epoch" not in (log.read_text() if log.exists() else "")  # the job never ran
    for name in ("history.csv", "history.provenance.json", "epoch0.5.npz", "epoch2.npz"):
        a = (first / HISTORY).parent / name
        b = (second / HISTORY).parent / name
        assert a.read_bytes() == b.read_bytes()
    with np.load((second / HISTORY).parent / "epoch2.npz") as checkpoint:
        assert "leaf_0000" in checkpoint.files
