"""`python -m courseforge` is the `courseforge` command."""

from courseforge.cli.app import main

main()
