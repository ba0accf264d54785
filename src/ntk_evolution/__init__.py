"""ntk_evolution."""
