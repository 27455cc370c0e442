"""The workspace: scanning trees, the stat cache, and materialising versions."""
