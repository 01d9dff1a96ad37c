"""The outputs of prediction: tables, annotated VCF and genome tracks, written from rows.

A writer takes rows (leading values and a float32 score matrix) as the runner
(:mod:`zoo.predict.running`) hands them over; these modules never import the runner.

- :mod:`~zoo.predict.outputs.columns`: target names as unique column names, and ``--targets``
- :mod:`~zoo.predict.outputs.writers`: TSV, Parquet and HDF5 tables
- :mod:`~zoo.predict.outputs.columnar`: the sinks that encode those tables' columns
- :mod:`~zoo.predict.outputs.textformat`: numbers formatted as ``%.6g`` text, fast
- :mod:`~zoo.predict.outputs.staged`: several files renamed into place together
- :mod:`~zoo.predict.outputs.vcf`: the input VCF with the scores as INFO fields
- :mod:`~zoo.predict.outputs.tracks`: one bigWig or bedGraph track per target
"""
