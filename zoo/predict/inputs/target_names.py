"""Target names read from a file (``--labels``): one name per line, each checked for use as a column name."""

from __future__ import annotations

import os

from zoo._io.text import tsv_field_problem
from zoo._types import PathLike
from zoo.predict.errors import PredictError, require_file


def read_target_names(path: PathLike, n_targets: int) -> list[str]:
    """Target names from a file with one name per line (e.g. Kipoi's predictor_names.txt).

    Only LF (or CRLF) ends a line. A name that is blank or holds a tab, a line break or
    another control character is refused naming its line: it would shift a TSV header
    against its rows, or make a column without a name.

    Args:
        path: the file.
        n_targets: the model's outputs: one name each.
    """
    try:
        text = (
            require_file(path, "--labels").read_bytes().decode("utf-8-sig")
        )  # a byte-order mark is no part of the first name
    except UnicodeDecodeError as err:
        raise PredictError(
            f"--labels {os.fspath(path)} is not UTF-8 text ({err.reason}); expected one target name per line"
        ) from None
    labels = [line.removesuffix("\r") for line in text.split("\n")]
    while labels and not labels[-1].strip():
        labels.pop()  # tolerate trailing blank lines
    for number, name in enumerate(labels, 1):
        if not name.strip():
            raise PredictError(
                f"--labels {os.fspath(path)} line {number} is blank; every target needs a name"
            )
        problem = tsv_field_problem(name)
        if problem is not None:
            raise PredictError(
                f"--labels {os.fspath(path)} line {number}: the target name {name!r} {problem}"
            )
    if len(labels) != n_targets:
        raise PredictError(
            f"--labels {os.fspath(path)} has {len(labels)} names, the model has {n_targets} targets"
        )
    return labels
