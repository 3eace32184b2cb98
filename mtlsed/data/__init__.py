"""Data: one dataset format (DESED's), the mixing protocols, sound sources and adapters."""
