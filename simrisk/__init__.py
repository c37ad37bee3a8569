"""simrisk: Monte Carlo risk engine for social impact investments.

An investor pre-finances an employment programme; the municipality repays out
of what it saves or on outcome targets. simrisk simulates every citizen week by
week, with and without the programme, and returns the distributions of savings,
payments, investor return and municipal risk.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("simrisk")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
