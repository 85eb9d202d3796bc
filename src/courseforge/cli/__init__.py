"""The `courseforge` command line: thin commands over the runtime and the pipeline."""
