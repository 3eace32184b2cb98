"""Core: the one error root, atomic writes, strict YAML, worker processes, the allocator, the machine."""
