"""Publish stage: the GeoPackage, tiles, web map and manifest of a scenario, written atomically."""
