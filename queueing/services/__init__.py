"""Queue operations, one concern a module; together the only writers of queueing tables."""
