"""Two scenarios of the tiny configuration on a real single-node Slurm cluster, through
``profiles/slurm``.

The session fixture ``slurm_run`` (``tests/conftest.py``, ``tests/slurm_cluster.py``) starts a
one-node cluster on this machine and runs two scenarios of the tiny configuration through it, in
one workflow. This test checks that every job ran as a Slurm job and that the results equal those
of a local run.
"""

from __future__ import annotations

import pytest

from slurm_cluster import PARTITION, slurm_jobs, unavailable
from snakemake_run import assert_same_results

pytestmark = pytest.mark.skipif(unavailable() is not None, reason=str(unavailable()))

# The rules whose jobs Snakemake runs itself, never through Slurm: the default target and the
# scenario's folder of links (a local rule).
LOCAL_RULES = {"all", "scenario"}


def test_two_scenarios_through_slurm_match_a_local_run(slurm_run, two_scenarios):
    run = slurm_run
    assert run.returncode == 0, (
        f"the run through Slurm failed ({run.seconds:.0f} s):\n{run.context}"
    )
    print(f"{len(run.planned) - len(LOCAL_RULES)} jobs through Slurm in {run.seconds:.0f} s")

    # Every job of the DAG but the local ones ran as its own Slurm job: one log per job, named by
    # its job id, and slurmctld's records show that job completed in the test partition for that
    # rule.
    jobs = slurm_jobs()
    submitted = {}
    for log in run.slurm_logs:
        rule = log.relative_to(run.checkout / ".snakemake/slurm_logs").parts[0]
        rule = rule.removeprefix("rule_")
        submitted[log.stem] = rule
        assert log.stem in jobs, f"job {log.stem} ({rule}) is unknown to Slurm:\n{run.context}"
        state, partition, comment = jobs[log.stem]
        assert (state, partition) == ("COMPLETED", PARTITION), (log, jobs[log.stem])
        assert comment.startswith(f"rule_{rule}"), (log, comment)
    assert LOCAL_RULES <= {rule for rule, _ in run.planned}
    planned = sorted(rule for rule, _ in run.planned if rule not in LOCAL_RULES)
    assert sorted(submitted.values()) == planned, run.context

    assert {"compare_scenarios", "figures"} <= set(submitted.values())
    assert_same_results(two_scenarios[0], run.checkout)
