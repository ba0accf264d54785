"""One function per workflow stage, from input files to output files.

The scripts in ``workflow/scripts`` only unpack Snakemake's ``input``/``params``/``output``, point
logging at the job's log (:func:`ntk_evolution.pipeline.joblog.setup_logging`) and call one function from
these modules. Every setting arrives as an argument (the rule's ``params``), never from
config.yaml directly, so Snakemake reruns exactly the jobs whose settings changed; the same
settings are recorded as provenance in what each stage writes. The stages live in separate
modules so that a job imports only what it uses (imports dominate a short job's run time).
"""
