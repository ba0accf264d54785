# Evaluation on the whole test set: clean, robust (white-box PGD) and transfer accuracy of every
# final phase-1 network and every child, gathered into one table and one dataset. The white-box
# adversarial images of a final phase-1 network are kept: they are the transfer attack on every
# child of its run. Every attack is measured at its own epsilon and at every radius of its
# `epsilons`; results and stored images are keyed by attack and epsilon.

EVALUATION = "evaluation/" + RUN


def evaluation_settings(s):
    return {"model": s.config["model"], "evaluation": s.config["evaluation"]}


def evaluation_minutes_of(models):
    """A job's time limit, for ``models(scenario)`` models."""
    return lambda s, w: evaluation_minutes(s.settings.evaluation, models(s))


def parent_evaluation_key(s, regime):
    inputs = [phase1_key(s, regime), split_key(s)]
    return keyed("evaluate_phase1", s, evaluation_settings(s), inputs)


def parent_evaluation(s, regime, seed, name):
    """A file of a final phase-1 network's evaluation: its table or its adversarial images."""
    key = parent_evaluation_key(s, regime)
    return shared(key, EVALUATION + name, regime=regime, seed=seed)


rule evaluate_phase1:
    input:
        checkpoint=lambda w: checkpoint(owner(w), w.regime, w.seed, owner(w).epochs[-1]),
        split=lambda w: split_path(owner(w)),
        code=code_of("evaluate_phase1"),
    output:
        table=shared_pattern(EVALUATION + "phase1.csv"),
        adversarial=shared_pattern(EVALUATION + "phase1_adversarial.npz"),
    log:
        logs("evaluate_phase1", "{key}", PER_RUN),
    benchmark:
        benchmarks("evaluate_phase1", "{key}", PER_RUN)
    conda:
        GPU_ENV
    resources:
        **job_resources(
            mem_mb=8000, runtime=evaluation_minutes_of(lambda s: 1), gpu=True
        ),
    params:
        **job_params(evaluation_settings, "model", "evaluation"),
    script:
        "../scripts/evaluate_phase1.py"


def children_evaluation_key(s, regime):
    inputs = [children_key(s, regime), parent_evaluation_key(s, regime), split_key(s)]
    return keyed("evaluate_children", s, evaluation_settings(s), inputs)


def children_evaluation(s, regime, seed, spawn):
    key = children_evaluation_key(s, regime)
    return shared(key, EVALUATION + "spawn{spawn}.csv", regime=regime, seed=seed, spawn=spawn)


rule evaluate_children:
    input:
        children=lambda w: children_files(
            owner(w), w.regime, w.seed, w.spawn, "params.npz"
        ),
        spawn=lambda w: checkpoint(owner(w), w.regime, w.seed, w.spawn),
        parent_adversarial=lambda w: parent_evaluation(
            owner(w), w.regime, w.seed, "phase1_adversarial.npz"
        ),
        split=lambda w: split_path(owner(w)),
        code=code_of("evaluate_children"),
    output:
        shared_pattern(EVALUATION + "spawn{spawn}.csv"),
    log:
        logs("evaluate_children", "{key}", PER_RUN, "spawn{spawn}"),
    benchmark:
        benchmarks("evaluate_children", "{key}", PER_RUN, "spawn{spawn}")
    conda:
        GPU_ENV
    resources:
        **job_resources(
            mem_mb=8000,
            runtime=evaluation_minutes_of(lambda s: len(s.settings.phase2.child_kinds)),
            gpu=True,
        ),
    params:
        **job_params(evaluation_settings, "model", "evaluation"),
    script:
        "../scripts/evaluate_children.py"


ACCURACY = "evaluation/accuracy"


def gather_inputs(s):
    """Every evaluation table of the scenario: the final networks', then the children's."""
    parents = [parent_evaluation(s, r.regime, r.seed, "phase1.csv") for r in s.runs]
    children = [
        children_evaluation(s, r.regime, r.seed, spawn) for r in s.runs for spawn in s.spawns
    ]
    return {"phase1": parents, "children": children}


def gather_settings(s):
    return {"config": {key: s.config[key] for key in ("phase2", "evaluation")}}


def gather_key(s):
    return keyed("gather_evaluation", s, gather_settings(s), [gather_inputs(s)])


def accuracy(s, suffix):
    """The scenario's gathered accuracies: ``.csv`` (the table) or ``.zarr`` (the dataset)."""
    return shared(gather_key(s), ACCURACY + suffix)


def evaluation_results(s):
    inputs = gather_inputs(s)
    parents = [parent_evaluation(s, r.regime, r.seed, "phase1_adversarial.npz") for r in s.runs]
    return [*inputs["phase1"], *parents, *inputs["children"], accuracy(s, ".csv"), accuracy(s, ".zarr")]


rule gather_evaluation:
    input:
        unpack(lambda w: gather_inputs(owner(w))),
        code=code_of("gather_evaluation"),
    output:
        table=shared_pattern(ACCURACY + ".csv"),
        store=directory(shared_pattern(ACCURACY + ".zarr")),
    log:
        logs("gather_evaluation", "{key}"),
    benchmark:
        benchmarks("gather_evaluation", "{key}")
    conda:
        ENV
    resources:
        **job_resources(mem_mb=2000, runtime=10),
    params:
        **job_params(gather_settings, "config"),
    script:
        "../scripts/gather_evaluation.py"
