"""Models behind one interface: the ``stax`` zoo, Flax modules, the configured network, the
classifier's loss and accuracy, and the linearized and centered children."""
