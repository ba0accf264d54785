# The paper's findings judged on this run's own statistics and accuracies, with the thresholds
# of the config's `findings` section: results/findings.csv and .md, first in the report.


rule findings:
    input:
        pairs=rules.kernel_pair_distances.output if PAIRS else [],
        runs=each_run(rules.kernel_evolution.output[0]),
        evaluation=rules.gather_evaluation.output.table,
        code=code_of("findings"),
    output:
        table=report(
            "results/findings.csv",
            caption="../report/findings.rst",
            category="1. Findings",
            labels={"table": "findings"},
        ),
        markdown="results/findings.md",
    log:
        logs("findings"),
    benchmark:
        benchmarks("findings")
    conda:
        ENV
    resources:
        **job_resources(mem_mb=2000, runtime=10),
    params:
        thresholds=config["findings"],
        dataset=config["dataset"]["name"],
        model=config["model"],
        phase1=config["phase1"],
        attack=config["evaluation"]["attacks"][config["findings"]["attack"]],
    script:
        "../scripts/findings.py"
