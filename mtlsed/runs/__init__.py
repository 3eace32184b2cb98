"""Runs: the run folder (the one owner of a run's files), what a run prints, fingerprints."""
