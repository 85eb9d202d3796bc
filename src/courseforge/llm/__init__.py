"""LLM providers behind one small port, and the gateway that gets validated output from them."""
