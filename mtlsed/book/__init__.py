"""The book: what the notebooks call (sessions, plots, listening), publishing and building it."""
