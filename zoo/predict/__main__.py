"""``python -m zoo.predict``: the same as the zoo-predict command."""

from zoo.cli.predict import main

main()
