"""Settings package: ``base`` (shared, environment-driven), ``embedded`` (default, no services),
``production`` (refuses unsafe defaults) and ``test``."""
