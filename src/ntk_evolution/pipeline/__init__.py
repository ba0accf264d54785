"""Workflow glue beside the stages: job logging, the scripts' typed params, time limits and the
import graph that gives every rule its code inputs."""
