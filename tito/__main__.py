"""`python -m tito` runs the CLI."""

from tito.cli.app import main

main()
