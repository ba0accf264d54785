# The paper's findings judged on this run's own statistics and accuracies, with the thresholds
# of the config's `findings` section: results/findings.csv and .md, first in the report.

FINDINGS_ATTACK = config["evaluation"]["attacks"][config["findings"]["attack"]]


rule findings:
    input:
        pairs=["results/statistics/pair_distances.zarr"] if PAIRS else [],
        evolutions=run_paths("results/statistics/{run}/evolution.zarr"),
        evaluation="results/evaluation/accuracy.csv",
        code=code("findings.py", "stages/findings.py"),
    output:
        table=report(
            "results/findings.csv",
            caption="../report/findings.rst",
            category="1. Findings",
            labels={"table": "findings"},
        ),
        markdown="results/findings.md",
    log:
        "logs/findings.log",
    benchmark:
        "logs/benchmarks/findings.tsv"
    conda:
        ENV
    threads: 1
    resources:
        **job_resources(mem_mb=2000, runtime=10),
    params:
        runs=RUN_KEYS,
        settings={
            "thresholds": config["findings"],
            "dataset": config["dataset"]["name"],
            "model": config["model"],
            "phase1": config["phase1"],
            "attack": FINDINGS_ATTACK,
        },
    script:
        "../scripts/findings.py"
