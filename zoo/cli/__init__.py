"""Console entry points, one module per command: each defines ``build_parser()`` and
``run(args) -> int`` and takes its ``main`` from :class:`zoo.cli._command.Command`, which holds
the error printing, exit statuses and signal handling they share."""
