"""The config and the experiment it describes: the typed settings, their checks, scenarios and
the experiment's vocabulary (runs, children, epochs and their result paths). No JAX."""
