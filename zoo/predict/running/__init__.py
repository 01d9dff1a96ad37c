"""Running prediction: the scorer, batches, reader threads and processes, and whole runs.

The runner takes a job from :mod:`zoo.predict.inputs`, scores its items in batches and hands
the rows to a writer of :mod:`zoo.predict.outputs` (or keeps them as arrays). Arrows run one
way: this package imports the other two, never the reverse.

- :mod:`~zoo.predict.running.scorer`: :class:`Scorer`, a model ready to score windows
- :mod:`~zoo.predict.running.run`: :func:`run_job`, batching, the choice of reader
- :mod:`~zoo.predict.running.threads`: the background threads that read and write
- :mod:`~zoo.predict.running.processes`: reading in child processes for fast devices
- :mod:`~zoo.predict.running.loading`: the model to score with, from a weights file
- :mod:`~zoo.predict.running.results`: scores as arrays in memory instead of a file
- :mod:`~zoo.predict.running.genome_tracks`: regions tiled, scored and written as tracks

The package imports nothing itself, so that a reader process (which imports
:mod:`~zoo.predict.running.processes`) starts without torch.
"""
