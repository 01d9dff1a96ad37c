"""Lightning's console output in the command-line tools: into Hydra's logging, without noise."""

from __future__ import annotations

import logging
import warnings


class _DropAdverts(logging.Filter):
    """Drop Lightning's promotional tip, which says nothing about the run."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("\N{ELECTRIC LIGHT BULB} Tip:")


def quiet_lightning() -> None:
    """Drop the messages of Lightning's that say nothing about the run: its promotional tip,
    a deprecation warning about its own use of torch that the user cannot act on, and its note
    of a SIGTERM."""
    tips = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    if not any(isinstance(f, _DropAdverts) for f in tips.filters):
        tips.addFilter(_DropAdverts())
    warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")
    # "Received SIGTERM: 15": the command itself says in one line which signal stopped it
    logging.getLogger("lightning.pytorch.trainer.connectors.signal_connector").setLevel(logging.WARNING)


def route_logging() -> None:
    """Send Lightning's messages and Python warnings through the root logger that Hydra set up,
    so the console and ``RUN_DIR/train.log`` both get them.

    Lightning gives its loggers their own console handler when imported before logging is
    configured (as here, before Hydra runs), and stops them propagating: ``train.log`` stayed empty.
    """
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            if type(handler) is logging.StreamHandler:  # the console handlers Lightning added at import
                logger.removeHandler(handler)
        logger.propagate = True
    quiet_lightning()
    logging.captureWarnings(True)
