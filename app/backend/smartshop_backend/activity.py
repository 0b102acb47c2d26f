"""The activity log: what happened, with a level (domain.LEVELS), as the seed printed it."""

from __future__ import annotations

from typing import Any


def record(cur: Any, level: str, message: str) -> None:
    """Add an entry in the caller's transaction (the caller counts it)."""
    cur.execute("INSERT INTO activity_log (level, message) VALUES (%s, %s)", (level, message[:255]))


def recent(cur: Any, limit: int, level: str | None = None) -> list[dict[str, Any]]:
    if level:
        cur.execute(
            "SELECT id, created_at, level, message FROM activity_log WHERE level = %s ORDER BY id DESC LIMIT %s",
            (level, limit),
        )
    else:
        cur.execute("SELECT id, created_at, level, message FROM activity_log ORDER BY id DESC LIMIT %s", (limit,))
    return [
        {
            "id": row["id"],
            "created_at": row["created_at"].isoformat(timespec="milliseconds") + "Z",
            "level": row["level"],
            "message": row["message"],
            "text": f"{row['message']} ({row['level']})",
        }
        for row in cur.fetchall()
    ]


def euros(amount: Any) -> str:
    return f"{amount:.2f}€"
