"""Training: one training step, the loop (resume, DDP), the weight average."""
