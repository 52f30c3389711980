"""Thin Dagster assets, one module per stage: ``ingest``, ``derive``, ``publish``. Each asset body reads its config
and resources, calls :mod:`geodata`, attaches metadata and returns."""
