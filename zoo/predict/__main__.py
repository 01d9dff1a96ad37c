"""``python -m zoo.predict``: the same as the zoo-predict command."""

from zoo.predict.cli import main

main()
