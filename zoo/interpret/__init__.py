"""Interpretation of the zoo's DNA models: in-silico mutagenesis, gradient and DeepLIFT attributions
(captum), dinucleotide shuffles, TF-MoDISco inputs and pictures.

The optional libraries (captum, logomaker, modisco-lite) load only inside the functions that
use them: ``pip install "sigmoid-zoo[interpret]"``.
"""

from zoo.interpret.attribution import AttributionResult, attribute
from zoo.interpret.ism import ISMResult, PreparedISM, ism, ism_batches, ism_span, mutant_index, prepare_ism
from zoo.interpret.modisco import save_modisco_inputs
from zoo.interpret.pictures import plot_attribution
from zoo.interpret.shuffle import dinucleotide_shuffle

__all__ = [
    "AttributionResult",
    "ISMResult",
    "PreparedISM",
    "attribute",
    "dinucleotide_shuffle",
    "ism",
    "ism_batches",
    "ism_span",
    "mutant_index",
    "plot_attribution",
    "prepare_ism",
    "save_modisco_inputs",
]
