"""Results: tables built from runs."""
