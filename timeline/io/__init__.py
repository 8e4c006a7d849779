"""Input and output: safe YAML and CSV reading, the scenario loader, safe writing."""
