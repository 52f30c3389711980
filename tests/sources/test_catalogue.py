from __future__ import annotations

import http.server
import threading
from pathlib import Path

import pytest

from geodata.errors import ChecksumMismatch, ConfigError, SourceUnavailable
from geodata.sources import catalogue
from geodata.sources.catalogue import Source, load_catalogue, resolve


def test_every_catalogue_entry_is_complete_and_in_the_mirror(mirror: Path) -> None:
    for name, src in load_catalogue().items():
        assert src.url.startswith("https://"), name
        assert src.licence, name
        assert src.attribution, name
        resolved = resolve(name, mirror=mirror)
        assert resolved.origin == "mirror"
        assert resolved.sha256 == src.sha256, f"{name}: mirror file differs from the catalogue checksum"


def test_offline_without_mirror_says_how_to_set_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("CORRIDOR_MIRROR", raising=False)
    with pytest.raises(SourceUnavailable, match="Set CORRIDOR_MIRROR"):
        resolve("srtm30plus_caspian", cache=tmp_path)


def test_unknown_source_suggests_a_name() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'hazards_caspian'"):
        resolve("hazard_caspian")


def test_checksum_mismatch_names_file_and_fix(tmp_path: Path) -> None:
    (tmp_path / "hazards_caspian.gpkg").write_bytes(b"not the catalogued file")
    with pytest.raises(ChecksumMismatch, match="verify_checksums: false"):
        resolve("hazards_caspian", mirror=tmp_path)
    assert resolve("hazards_caspian", mirror=tmp_path, verify=False).origin == "mirror"


def test_cache_then_download_from_a_local_server(tmp_path: Path, monkeypatch) -> None:
    served = tmp_path / "www"
    served.mkdir()
    payload = b"pretend GeoTIFF bytes" * 100
    (served / "grid.tif").write_bytes(payload)
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(served), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/grid.tif"
        src = Source(
            "test_grid",
            "test",
            "raster",
            "grid.tif",
            url,
            "direct",
            "CC0",
            "me",
            sha256=catalogue.sha256_of(served / "grid.tif"),
        )
        monkeypatch.setattr(catalogue, "load_catalogue", lambda: {"test_grid": src})
        cache = tmp_path / "cache"
        first = resolve("test_grid", mirror=None, cache=cache)
        assert first.origin == "download"
        assert (cache / "grid.tif").read_bytes() == payload
        assert not list(cache.glob("*.part"))
        assert resolve("test_grid", mirror=None, cache=cache).origin == "cache"
    finally:
        server.shutdown()
