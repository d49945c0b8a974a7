"""Writes of the los app: connections, syncs (Encompass and drop folder)."""
