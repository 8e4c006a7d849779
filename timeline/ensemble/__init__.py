"""Ensembles: many paired replicates per branch, run in parallel, folded into bands and risks."""
