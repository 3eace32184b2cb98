"""Configuration: the dataclasses and their YAML, the profiles and the shipped params/."""
