"""The file helpers shared by every reader, writer and command: :mod:`zoo._io.inputs` (opening
and checking what is read), :mod:`zoo._io.outputs` (writing outputs whole, or not at all) and
:mod:`zoo._io.text` (the fields of text tables)."""
