"""Publishing: ``gpkg`` (GeoPackage writer and validation), ``styles`` (QGIS styles and the web map's symbols),
``tiles`` (vector and raster PMTiles/MBTiles), ``webmap`` (the static MapLibre page), ``atomic`` (versioned, atomic
publication with its manifest) and ``compose`` (a scenario's publication from its layers)."""
