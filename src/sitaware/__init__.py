"""sitaware: one trustworthy picture of what is happening, for the police component of a peace operation."""

__version__ = "0.1.0"
