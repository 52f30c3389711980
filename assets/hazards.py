"""Hazards stage: every seabed hazard in one normalised, validated table with the rule that constrains the cable."""

from collections.abc import Iterator
from typing import Any

import dagster as dg

from assets.common import check_specs, metadata, scenario_of
from assets.config import PARTITIONS, CorridorSettings
from geodata import hazards as haz


@dg.asset(
    partitions_def=PARTITIONS,
    group_name="hazards",
    check_specs=check_specs(
        "hazards",
        {
            "inventory_warnings": "Hazard layers loaded without warnings (a warning does not block the route).",
            "geometry_repairs": "No hazard geometry had to be repaired or dropped on read (counts per source; a "
            "warning, the repaired geometry is used).",
        },
        blocking=False,
    ),
)
def hazards(context: dg.AssetExecutionContext, settings: CorridorSettings) -> Iterator[Any]:
    """Every seabed hazard in one normalised, validated table (EPSG:4326): the mirror's faults, earthquakes, pipelines,
    cable, shipping lanes and ports, the curated inventory, and the scenario's own inventories, each row carrying the
    rule that constrains the cable (hard buffer, soft cost and decay, minimum crossing angle)."""
    sc = scenario_of(context, settings)
    rules = haz.effective_rules(sc.hazards)
    tables, reports = [], {}
    if sc.hazards.use_mirror_layers:
        h, i = settings.resolve("hazards_caspian", sc), settings.resolve("infrastructure_caspian", sc)
        table, reports["mirror"] = haz.load_mirror_hazards(
            h.path,
            i.path,
            rules=rules,
            provenance={"hazards_caspian": h.provenance(), "infrastructure_caspian": i.provenance()},
        )
        tables.append(table)
    if sc.hazards.include_curated:
        table, reports["curated"] = haz.load_curated_hazards(rules=rules)
        tables.append(table)
    for n, item in enumerate(sc.hazards.inputs):
        table, reports[f"inputs[{n}] {item.path}"] = haz.read_user_inventory(
            item.path, layer=item.layer, kind=item.kind, rules=rules, licence=item.licence,
            attribution=item.attribution,
        )  # fmt: skip
        tables.append(table)
    margin = max((r.exclusion_buffer_m + 7 * r.decay_m for r in rules.values()), default=0.0)
    table = haz.hazards_in_area(haz.combine_hazards(tables), sc.area_of_interest.bounds, margin_m=margin)
    warnings = [w for r in reports.values() for w in r.get("warnings", [])]
    yield dg.Output(
        table,
        metadata=metadata(
            {**haz.hazard_summary(table), "rules": {k: v.model_dump() for k, v in rules.items()}, "reports": reports}
        ),
    )
    yield dg.AssetCheckResult(
        check_name="inventory_warnings",
        passed=not warnings,
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join(map(str, warnings)) or "no warnings",
    )
    yield geometry_repairs_check(reports)


def geometry_repairs_check(reports: dict[str, dict[str, Any]]) -> dg.AssetCheckResult:
    """A warning check counting the geometries each source had repaired or dropped on read, with the first reasons."""
    counts = {
        name: {"repaired": len(r.get("repaired", [])), "dropped": len(r.get("dropped", []))}
        for name, r in reports.items()
    }
    touched = {k: v for k, v in counts.items() if v["repaired"] or v["dropped"]}
    examples = [
        f"{name}: {item.get('row', '?')}: {item.get('reason', '')} -> {item.get('action', 'dropped')}"
        for name, r in reports.items()
        for item in [*r.get("repaired", []), *r.get("dropped", [])][:3]
    ]
    text = "; ".join(f"{k}: {v['repaired']} repaired, {v['dropped']} dropped" for k, v in touched.items())
    return dg.AssetCheckResult(
        check_name="geometry_repairs",
        passed=not touched,
        severity=dg.AssetCheckSeverity.WARN,
        description=(text + (". e.g. " + "; ".join(examples[:5]) if examples else "")) or "no geometry repaired",
        metadata=metadata({"counts": counts}),
    )
