"""Learning from the user's answers: semi-supervised fine-tuning and which galaxies to ask about next.

Modules are imported by their full name (``from core.learning.MODULE import NAME``);
this package re-exports nothing.
"""
