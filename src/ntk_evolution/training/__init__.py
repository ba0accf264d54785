"""The SGD loop of phase-1 networks and phase-2 children, benign, adversarial or flipping."""
