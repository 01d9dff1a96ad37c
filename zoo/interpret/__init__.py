"""Interpretation of the zoo's DNA models: in-silico mutagenesis, gradient and DeepLIFT attributions
(captum), dinucleotide shuffles, TF-MoDISco inputs and pictures.

The optional libraries (captum, logomaker, modisco-lite) load only inside the functions that
use them: ``pip install "sigmoid-zoo[interpret]"``.
"""

from zoo.interpret.ism import ISMResult, PreparedISM, ism, ism_batches, mutant_index, prepare_ism

__all__ = ["ISMResult", "PreparedISM", "ism", "ism_batches", "mutant_index", "prepare_ism"]
