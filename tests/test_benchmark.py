"""The NTK benchmark script runs end to end and its three methods agree."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml

from snakemake_run import ROOT, TINY


def test_benchmark_methods_agree(tmp_path):
    config, output = tmp_path / "config.yaml", tmp_path / "benchmark.json"
    config.write_text(yaml.safe_dump(TINY))  # a narrow MLP and tiles of 8 probes
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / "ntk_engines.py"),
        *("--models", "mlp", "--probes", "12", "--memory-probes", "20"),
        *("--config", str(config), "--output", str(output)),
    ]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=True)
    assert "| mlp | 12 |" in done.stdout
    results = json.loads(output.read_text())
    (row,) = results["table"]
    for method in ("recipe", "jacobian"):
        assert row[method]["relative_difference"] < 1e-5
        assert row[method]["speedup"] > 0
    assert row["recipe"]["blocks"] == row["recipe"]["blocks_timed"] == 6 * 10  # 3 x 3 blocks
    assert row["engine"]["tile_size"] == TINY["ntk"]["tile_size"]
    assert row["engine"]["implementation"] == "structured_derivatives"
    assert row["engine"]["repeats"] == 3  # median of three timed runs after a warm-up
    assert results["memory"]["probes"] == 20
    assert 0 < results["memory"]["peak_rss_gb"] < 4
