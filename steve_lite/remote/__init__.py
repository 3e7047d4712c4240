"""The commands that reach a steve-lite server through its API with the client: ``submit``,
``jobs`` and ``submissions``."""
