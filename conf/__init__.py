"""Hydra configs for ``zoo-train``; installed as the package ``zoo.conf``."""
