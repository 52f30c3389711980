"""Deliverables: what surveyors work from. ``rpl`` (Route Position List, KP points, depth/slope profile, cable
bands), ``sld`` (the straight-line diagram) and ``compose`` (all of them from an engineered route)."""
