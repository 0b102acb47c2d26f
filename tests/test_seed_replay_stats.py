"""seed.sh's count of what a point-in-time restore replayed (the restore's closing message: "the last
committed <time>"), read from mariadb-binlog's text as the role reads it, at any hour. mariadb-binlog
pads the hour of each event's header with a space ("#261208  0:43:46"): before 10:00 UTC the time
read was '2026-12-08 0:43:46', which sorts after every later time of that day (found by
tests/test_point_in_time.py at 00:43, in CI). The server's replay itself is proved there."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

SEED = Path(__file__).resolve().parents[1] / "roles" / "mysql" / "files" / "seed.sh"


def replay_stats(tmp_path: Path, binlog_text: str) -> tuple[str, list[str]]:
    """seed.sh's awk program over `binlog_text`: (what it passes on to the server, its stats line's fields)."""
    (program,) = re.findall(r"awk -v stats=/tmp/replay\.stats '(.*?)'", SEED.read_text(), re.S)
    stats = tmp_path / "replay.stats"
    passed = subprocess.run(
        ["awk", "-v", f"stats={stats}", program], input=binlog_text, capture_output=True, text=True, check=True
    ).stdout
    return passed, stats.read_text().rstrip("\n").split("\t")


def event(header_time: str, statement: str) -> str:
    return f"# at 256\n#261208 {header_time} server id 1  end_log_pos 330 CRC32 0x1\n{statement}\n/*!*/;\n"


@pytest.mark.parametrize(
    ("header_time", "read"),
    [(" 0:43:46", "2026-12-08 00:43:46"), (" 9:05:00", "2026-12-08 09:05:00"), ("10:43:46", "2026-12-08 10:43:46")],
)
def test_the_last_commit_time_reads_as_a_sortable_utc_time_at_any_hour(tmp_path, header_time, read):
    text = event(" 0:00:01", "BEGIN") + event(" 0:00:01", "COMMIT") + event(header_time, "BEGIN")
    text += event(header_time, "COMMIT")
    passed, (transactions, last) = replay_stats(tmp_path, text)
    assert passed == text  # every line still reaches the server
    assert (transactions, last) == ("2", read)
    assert last > "2026-12-08 00:00:01"


def test_nothing_replayed_says_so(tmp_path):
    text = "/*!50530 SET @@SESSION.PSEUDO_SLAVE_MODE=1*/;\n"
    assert replay_stats(tmp_path, text) == (text, ["0", ""])
