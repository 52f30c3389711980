"""Route engineering: what turns a routed path into a cable route.

``events`` (named positions and their kinds), ``landfall`` (beach manhole, shore crossing, approach leg),
``alter_course`` (straight legs at A/C points), ``crossings`` (crossings of pipelines and cables at the minimum angle),
``sectors`` (where the route crosses seabed sectors), ``checks`` (the blocking route checks) and ``compose`` (the
steps in the order a route engineer takes them).
"""
