"""Stand-in for the XGBoost image's own package (not on PyPI), reduced to its training entry."""
