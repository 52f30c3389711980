"""Run one hostile case in this process and print its raw outcome as JSON (used by tally.py and isolated cases).

    python tests/hostile/_runner.py CASE_ID TMPDIR [MEMORY_LIMIT_GB]

The code tree under test is whatever ``geodata`` resolves to (``PYTHONPATH``); ``cases.py`` is read from this folder.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cases


def main() -> None:
    case_id, tmp = sys.argv[1], Path(sys.argv[2])
    if len(sys.argv) > 3:
        limit = int(float(sys.argv[3]) * 1e9)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        out = cases.run_case(cases.BY_ID[case_id], tmp)
    except BaseException as exc:  # noqa: BLE001 - a failure while preparing is reported, not raised
        out = {"id": case_id, "kind": "crashed", "message": f"{type(exc).__name__}: {exc}", "needles": []}
    print("\n@@OUTCOME@@" + json.dumps(out))


if __name__ == "__main__":
    main()
