# The paper's findings judged on each scenario's own statistics and accuracies, with the
# thresholds of its `findings` section: results/<scenario>/findings.csv and .md, first in the
# report; with a scenarios file, every scenario's findings side by side in results/comparison/.


rule findings:
    input:
        unpack(lambda w: findings_inputs(SCENARIOS[w.scenario])),
        code=code_of("findings"),
    output:
        table=report(
            f"{SCENARIO}findings.csv",
            caption="../report/findings.rst",
            category="Findings",
            labels={"scenario": "{scenario}", "table": "findings"},
        ),
        markdown=f"{SCENARIO}findings.md",
        robustness=f"{SCENARIO}robustness.md",
        verdicts=f"{SCENARIO}verdicts.csv",
    log:
        logs("findings", "{scenario}"),
    benchmark:
        benchmarks("findings", "{scenario}")
    conda:
        ENV
    resources:
        **job_resources(mem_mb=2000, runtime=10),
    params:
        thresholds=findings_param(lambda s: s.plain("findings")),
        dataset=findings_param(lambda s: s.settings.dataset.name),
        model=findings_param(lambda s: s.plain("model")),
        phase1=findings_param(lambda s: s.plain("phase1")),
        attacks=findings_param(lambda s: s.plain("evaluation")["attacks"]),
    script:
        "../scripts/findings.py"
