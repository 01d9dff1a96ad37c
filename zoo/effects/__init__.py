"""Variant-effect summaries on top of a DNA model's per-target scores.

- :mod:`zoo.effects.seqclass`: Sei's sequence classes (projection of the profile
  probabilities on the class centroids; histone-normalised variant effects on the classes)
  and the two Sei resource arrays they need.
- :mod:`zoo.effects.background`: a per-target background distribution of variant effects
  (a bounded-memory summary), and the e-values, z-scores and functional significance
  computed against it.
- :mod:`zoo.effects.scoring`: the score columns zoo-predict and ``score_variants`` write,
  computed from a batch's logits.
- :mod:`zoo.effects.saturate`: every single-base change of genome regions, scored as
  variants and written as a tabix-indexed table.
- :mod:`zoo.effects.bar_charts`: bar charts of the largest effects of the strongest variants.

Importing the package is cheap: each name loads its module on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zoo._lazy import lazy_exports

_EXPORTS = {
    "SequenceClasses": ".seqclass",
    "SEQCLASS_RESOURCES": ".seqclass",
    "class_projection": ".seqclass",
    "histone_normalise": ".seqclass",
    "sequence_class_effects": ".seqclass",
    "load_sequence_classes": ".seqclass",
    "Background": ".background",
    "BackgroundError": ".background",
    "model_fingerprint": ".background",
    "VariantScoring": ".scoring",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from zoo.effects.background import Background, BackgroundError, model_fingerprint
    from zoo.effects.scoring import VariantScoring
    from zoo.effects.seqclass import (
        SEQCLASS_RESOURCES,
        SequenceClasses,
        class_projection,
        histone_normalise,
        load_sequence_classes,
        sequence_class_effects,
    )

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, submodules=True)
