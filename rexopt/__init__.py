"""rexopt: rare-earth solvent-extraction cascade simulation and process optimization."""

__version__ = "0.1.0"


def simulate(case, **kwargs):
    """Simulate a cascade case (path to a TOML file, or a dict); see docs/cases.md."""
    from rexopt.cascade import simulate as _simulate

    return _simulate(case, **kwargs)


__all__ = ["__version__", "simulate"]
