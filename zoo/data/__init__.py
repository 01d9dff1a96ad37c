"""Lightning data modules for DNA (FASTA, genome + BED, array files, synthetic) and images.

Importing this package imports Lightning; ``import zoo`` does not import it.
"""

from zoo.data.arrays import ArrayDataModule, ArrayRecords, ChunkBatchSampler, array_dims
from zoo.data.bed import DnaBedDataModule, count_bed_targets
from zoo.data.fasta import DnaFastaDataModule, fasta_seq_len
from zoo.data.images import DigitsDataModule, FakeImageDataModule, ImageFolderDataModule
from zoo.data.labels import count_targets, read_labels
from zoo.data.synthetic import ensure_synthetic_dna, make_synthetic_dna

__all__ = [
    "ArrayDataModule",
    "ArrayRecords",
    "ChunkBatchSampler",
    "DigitsDataModule",
    "DnaBedDataModule",
    "DnaFastaDataModule",
    "FakeImageDataModule",
    "ImageFolderDataModule",
    "array_dims",
    "count_bed_targets",
    "count_targets",
    "ensure_synthetic_dna",
    "fasta_seq_len",
    "make_synthetic_dna",
    "read_labels",
]
