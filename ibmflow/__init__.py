"""ibmflow: a workflow engine that drives the development of a national IBM strategy."""

__version__ = "0.1.0"
