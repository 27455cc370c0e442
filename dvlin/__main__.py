"""``python -m dvlin``."""

from dvlin.cli import main

main()
