"""Dagster wiring of caspian-corridor: one Definitions, jobs, resources, IO managers, partitions and schedules."""
