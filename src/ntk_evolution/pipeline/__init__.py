"""Workflow glue beside the stages: job logging, time limits and the import graph that gives
every rule its code inputs."""
