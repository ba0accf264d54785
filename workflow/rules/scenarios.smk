# Each scenario's folder in the layout of a single run: its figures and findings, and a link to
# every result it shares (results/shared/<key>/...), with scenario.yaml recording its whole
# resolved config. With a scenarios file, every scenario's findings side by side.


localrules:
    scenario,


rule scenario:
    input:
        shared=lambda w: scenario_results(SCENARIOS[w.scenario]),
        figures=rules.figures.output,
        findings=rules.findings.output,
        code=code_of("scenario"),
    output:
        f"{SCENARIO}scenario.yaml",
    log:
        logs("scenario", "{scenario}"),
    conda:
        ENV
    params:
        config=lambda w: SCENARIOS[w.scenario].config,
        shared=SHARED,
    script:
        "../scripts/scenario.py"


rule compare_scenarios:
    input:
        findings=expand(rules.findings.output.table, scenario=SCENARIOS),
        code=code_of("compare_scenarios"),
    output:
        table=report(
            f"{COMPARISON}findings.csv",
            caption="../report/comparison.rst",
            category="Comparison of scenarios",
            labels={"table": "findings of every scenario"},
        ),
        markdown=f"{COMPARISON}findings.md",
        figure=report(
            f"{COMPARISON}findings.png",
            caption="../report/comparison.rst",
            category="Comparison of scenarios",
            labels={"table": "decisive figures"},
        ),
        verdicts=f"{COMPARISON}verdicts.csv",
    log:
        logs("compare_scenarios"),
    benchmark:
        benchmarks("compare_scenarios")
    conda:
        ENV
    resources:
        **job_resources(mem_mb=2000, runtime=10),
    params:
        scenarios=list(SCENARIOS),
    script:
        "../scripts/compare_scenarios.py"
