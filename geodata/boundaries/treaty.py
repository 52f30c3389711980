"""Treaty points: the packaged 2003 AZ-KZ protocol points and a scenario's own."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from geodata.errors import InputDataError
from geodata.scenario import Boundaries, TreatyPoint, load_yaml

# -- treaty points ---------------------------------------------------------------------------------------------------


def load_treaty_points(path: str | Path | None = None) -> list[TreatyPoint]:
    """Read curated treaty points from YAML (default: the packaged ``geodata/data/treaty_points.yaml``).

    Parameters
    ----------
    path
        A YAML file with a ``treaty_points`` list of ``{name, lat_deg, lon_deg, countries, citation, ...}``; keys
        other than those five are documentation and are ignored here.

    Returns
    -------
    list of TreatyPoint
    """
    if path is None:
        text = resources.files("geodata").joinpath("data/treaty_points.yaml").read_text(encoding="utf-8")
        origin = "geodata/data/treaty_points.yaml"
    else:
        text = Path(path).read_text(encoding="utf-8")
        origin = str(path)
    raw = load_yaml(text, origin) or {}
    entries = raw.get("treaty_points") if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        raise InputDataError(f"{origin}: expected a top-level `treaty_points:` list")
    keys = ("name", "lat_deg", "lon_deg", "countries", "citation")
    out = []
    for i, entry in enumerate(entries):
        missing = [k for k in keys if k not in entry]
        if missing:
            raise InputDataError(f"{origin}: treaty point #{i + 1} lacks {', '.join(missing)}")
        out.append(TreatyPoint(**{k: entry[k] for k in keys}))
    return out


def treaty_points_for(boundaries: Boundaries) -> list[TreatyPoint]:
    """The treaty points a scenario asks for: the packaged ones (unless switched off) then the scenario's own."""
    packaged = load_treaty_points() if boundaries.use_packaged_treaty_points else []
    return [*packaged, *boundaries.treaty_points]


def treaty_list(points: Iterable[TreatyPoint | Mapping[str, Any]] | None) -> list[TreatyPoint]:
    out = []
    for p in points or ():
        out.append(p if isinstance(p, TreatyPoint) else TreatyPoint.model_validate(dict(p)))
    return out
