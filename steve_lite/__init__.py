"""steve-lite: a self-hosted document processing API."""

__version__ = "0.1.0"
