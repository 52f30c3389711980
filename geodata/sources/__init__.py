"""Sources: the catalogue of canonical inputs (``geodata/data/sources.yaml``) and their resolution to files, from the
mirror, the download cache or a download, each verified by sha256 and described by one provenance record."""
