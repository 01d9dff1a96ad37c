"""The inputs of prediction: what to score, read from FASTA, BED and VCF files and genome regions.

Each input becomes a :class:`~zoo.predict.inputs.job.Job`: a stream of items (one output row
each, with the windows to score) and the names of the row's columns. Nothing here runs a
model or writes a table: the runner (:mod:`zoo.predict.running`) takes jobs, and these
modules never import it.

- :mod:`~zoo.predict.inputs.job`: the Job and Item records
- :mod:`~zoo.predict.inputs.fastx`: FASTA/FASTQ records as a stream, every byte checked
- :mod:`~zoo.predict.inputs.fasta`: FASTA records (whole or tiled) as a job
- :mod:`~zoo.predict.inputs.genome`: random access to a genome FASTA
- :mod:`~zoo.predict.inputs.contigs`: contig names matched across the chr1 / 1 conventions
- :mod:`~zoo.predict.inputs.bed`: BED intervals as a job
- :mod:`~zoo.predict.inputs.vcf`: VCF records as a stream
- :mod:`~zoo.predict.inputs.variants`: reference and alternative windows of VCF alleles as a job
- :mod:`~zoo.predict.inputs.regions`: genome regions tiled into bins, as a job
- :mod:`~zoo.predict.inputs.target_names`: target names read from a file

The package imports nothing itself, so that a reader process (which needs only the FASTA
modules) starts without torch.
"""
