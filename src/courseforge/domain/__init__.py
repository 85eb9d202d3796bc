"""Pure data: the course structure, outlines and the shapes the LLM answers in. No I/O."""
