"""Features: log-mel, the frame grid and labels, normalisation, the feature cache, the torch Dataset,
augmentation."""
