"""The verbs of dvlin, one module each; every function takes a Repo and returns values."""
