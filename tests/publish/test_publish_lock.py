"""Two publishes of one scenario at the same time: the second waits for the first's lock, then publishes; both
versions are complete and verify. SYNTHETIC publications."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from geodata.errors import PublishError
from geodata.publish.atomic import live_version, publish, verify_manifest


def _publish(root: Path, text: str, *, started: threading.Event | None = None,
             release: threading.Event | None = None, **kw: object):  # type: ignore[no-untyped-def]  # fmt: skip
    def build(folder: Path) -> None:
        if started is not None:
            started.set()
        if release is not None:
            assert release.wait(30)
        (folder / "corridor.gpkg").write_text(f"gpkg {text}")

    return publish("demo", build, root=root, run_id=f"run-{text}", scenario_digest=text[0] * 64, **kw)


def test_a_second_publish_waits_for_the_lock_then_publishes(tmp_path: Path) -> None:
    started, release = threading.Event(), threading.Event()
    results: dict[str, object] = {}
    first = threading.Thread(target=lambda: results.update(a=_publish(tmp_path, "a", started=started, release=release)))
    first.start()
    assert started.wait(30)  # the first publish holds the lock, building
    with pytest.raises(PublishError, match=r"another publish of 'demo' held the lock .*wait for it"):
        _publish(tmp_path, "c", lock_wait_s=0)
    second = threading.Thread(target=lambda: results.update(b=_publish(tmp_path, "b", lock_wait_s=30)))
    second.start()
    second.join(0.5)
    assert second.is_alive()  # waiting for the lock, not failing
    release.set()
    first.join(30)
    second.join(30)
    a, b = results["a"], results["b"]
    assert live_version(tmp_path / "demo") == b.version_dir.resolve()  # type: ignore[attr-defined]
    for r, text in ((a, "a"), (b, "b")):
        assert verify_manifest(r.version_dir) == []  # type: ignore[attr-defined]
        assert r.manifest["scenario"]["digest"] == text * 64  # type: ignore[attr-defined]
        assert (r.version_dir / "corridor.gpkg").read_text() == f"gpkg {text}"  # type: ignore[attr-defined]
