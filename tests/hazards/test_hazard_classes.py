"""Hazard classes: objects of one kind grouped by their distinct rule parameters. SYNTHETIC objects."""

from __future__ import annotations

import shapely

from geodata.hazards.raster import HazardClass, _Object, hazard_classes


def _point(kind: str, buffer: float, decay: float = 1000.0, weight: float = 1.0) -> _Object:
    return _Object(kind, [shapely.Point(0, 0)], True, weight, decay, 0.0, buffer, True)


def test_one_kind_with_two_buffers_is_two_classes_and_lines_are_their_own() -> None:
    line = _Object("well", [shapely.LineString([(0, 0), (1, 1)])], False, 1.0, 1000.0, 0.0, 500.0, False)
    objects = [_point("well", 500.0), _point("well", 800.0), _point("well", 500.0), line, _point("wreck", 500.0)]
    classes = hazard_classes(objects)
    assert list(classes) == [
        HazardClass("well", True, 1000.0, 0.0, 500.0),
        HazardClass("well", True, 1000.0, 0.0, 800.0),
        HazardClass("well", False, 1000.0, 0.0, 500.0),
        HazardClass("wreck", True, 1000.0, 0.0, 500.0),
    ]
    assert len(classes[HazardClass("well", True, 1000.0, 0.0, 500.0)]) == 2


def test_an_object_that_constrains_nothing_is_in_no_class() -> None:
    assert hazard_classes([_point("other", 0.0, weight=0.0)]) == {}
