"""``python -m ragkit`` runs the command line."""

from ragkit.cli import main

main()
