"""Run traces after the run: trajectories, failure kinds, and the OTLP/JSON export."""
