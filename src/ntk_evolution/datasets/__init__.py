"""Datasets: loaders, the seeded split and probe set, CIFAR archives and verified downloads."""
