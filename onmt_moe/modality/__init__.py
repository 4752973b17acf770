"""Modality tags and the token → modality lookup.

May import: the standard library and torch (the lookup and segment masks); nothing else of ours,
never OpenNMT. ``tags`` is plain Python, so data code can use it without torch.
"""
