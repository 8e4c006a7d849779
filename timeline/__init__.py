"""timeline: dated impact timelines for a trade conflict."""
