"""agent-eval: a CI gate that tells whether a change to an LLM agent made it worse."""

__version__ = "0.1.0"

__all__ = ["__version__"]
