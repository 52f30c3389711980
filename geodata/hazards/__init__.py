"""Seabed hazards: one normalised table for everything that constrains a cable, its readers and its rasters.

Modules, one concept each:

* :mod:`geodata.hazards.schema` - the table's columns, the default rule of each kind and their scenario overrides
  (:func:`effective_rules`), validation (:func:`validate_hazards`), geometry repair, area clip and summary.
* :mod:`geodata.hazards.mirror` - the data mirror's layers (:func:`load_mirror_hazards`).
* :mod:`geodata.hazards.readers` - user inventories (:func:`load_user_inventory`) and the curated file
  (:func:`load_curated_hazards`).
* :mod:`geodata.hazards.raster` - hard mask and soft cost on the analysis grid (:func:`rasterize_hazards`).
"""

from __future__ import annotations

from geodata.hazards.mirror import MIRROR_LAYERS, load_mirror_hazards
from geodata.hazards.raster import (
    HazardPlan,
    HazardRasters,
    earthquake_weights,
    hazard_rows,
    plan_hazards,
    rasterize_hazards,
)
from geodata.hazards.readers import load_curated_hazards, load_user_inventory, read_user_inventory
from geodata.hazards.schema import (
    COLUMNS,
    HAZARD_KINDS,
    combine_hazards,
    default_rules,
    earthquake_weighting,
    effective_rules,
    empty_hazards,
    hazard_summary,
    hazards_in_area,
    repair_geometries,
    rule_justifications,
    validate_hazards,
)

__all__ = [
    "COLUMNS",
    "HAZARD_KINDS",
    "MIRROR_LAYERS",
    "HazardPlan",
    "HazardRasters",
    "combine_hazards",
    "default_rules",
    "earthquake_weighting",
    "earthquake_weights",
    "effective_rules",
    "empty_hazards",
    "hazard_rows",
    "hazard_summary",
    "hazards_in_area",
    "load_curated_hazards",
    "load_mirror_hazards",
    "load_user_inventory",
    "plan_hazards",
    "rasterize_hazards",
    "read_user_inventory",
    "repair_geometries",
    "rule_justifications",
    "validate_hazards",
]
