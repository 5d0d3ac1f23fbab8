"""tito: the course workbench for the tinytorch architecture tier."""

__version__ = "0.1.0"
