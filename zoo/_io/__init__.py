"""The file helpers shared by every reader, writer and command: :mod:`zoo._io.reading` (opening
and checking what is read), :mod:`zoo._io.writing` (writing outputs whole, or not at all),
:mod:`zoo._io.folders` (folder outputs that replace only their own files), :mod:`zoo._io.stale`
(temporaries a killed run left) and :mod:`zoo._io.text` (the fields of text tables)."""
