"""Analyses built on many runs: calibration."""
