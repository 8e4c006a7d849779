"""The scenario as data: pydantic models, the policy state, schedules, and the time scale."""
