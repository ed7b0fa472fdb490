"""Emitters: IR -> C text. One module per head family, `header.py` assembles the file."""
