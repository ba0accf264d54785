"""Private infrastructure: what every layer uses and no reader of the method needs.

Atomic writes, damaged-input errors, provenance, PRNG keys, the neural-tangents compatibility
layer, type aliases, zarr stores and checkpoints. Like neural-tangents' and optax's ``_src``:
the modules are imported where they are used, never re-exported, and import nothing else of the
package.
"""
