"""Neural tangent kernels and what is computed from them: the empirical and the infinite-width
kernel, kernels on attacked probes, kernel machines, feature pictures, kernel statistics and
eigenspace dynamics."""
