"""Report services, one concern a module: the only writers of report tables."""
