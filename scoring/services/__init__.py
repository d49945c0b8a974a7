"""Writes of the scoring app (see each module). Other slices import from here."""
