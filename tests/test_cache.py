"""Phase-1 training results are reused across workflows through Snakemake's output cache."""

from __future__ import annotations

import os

import numpy as np

from snakemake_run import SHARED, TINY, make_checkout, planned_key, snakemake

RUN = "phase1/benign/seed0"


def test_second_workflow_takes_training_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SNAKEMAKE_OUTPUT_CACHE", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    first = make_checkout(tmp_path / "first", TINY)
    second = make_checkout(tmp_path / "second", TINY)
    key = planned_key(first, "train_phase1", regime="benign", seed="0")
    assert planned_key(second, "train_phase1", regime="benign", seed="0") == key
    history = f"{SHARED}/{key}/{RUN}/history.csv"
    snakemake(first, "--cache", "train_phase1", "--", history)
    assert len(os.listdir(tmp_path / "cache")) == 5  # history, its provenance, 3 checkpoints
    result = snakemake(second, "--cache", "train_phase1", "--", history)
    assert f"output file {history} from cache" in result.stdout + result.stderr
    log = f"logs/train_phase1/{key}-benign-seed0.log"
    assert "epoch" in (first / log).read_text()  # the job ran in the first workflow
    done = (second / log).read_text() if (second / log).exists() else ""
    assert "epoch" not in done  # and never in the second
    for name in ("history.csv", "history.provenance.json", "epoch0.5.npz", "epoch2.npz"):
        a = (first / history).parent / name
        b = (second / history).parent / name
        assert a.read_bytes() == b.read_bytes()
    with np.load((second / history).parent / "epoch2.npz") as checkpoint:
        assert "leaf_0000" in checkpoint.files
