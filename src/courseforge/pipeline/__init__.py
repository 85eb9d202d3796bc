"""The generation pipeline: steps, units of work, checkpoints, evaluation and assembly."""
