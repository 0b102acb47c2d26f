"""Random realistic user names such as Emma494 or David174 (the seed's style)."""

from __future__ import annotations

import random

FIRST_NAMES = (
    "Emma",
    "David",
    "Louise",
    "Lucas",
    "Chloe",
    "Hugo",
    "Alice",
    "Louis",
    "Lina",
    "Gabriel",
    "Jade",
    "Arthur",
    "Mia",
    "Jules",
    "Lea",
    "Adam",
    "Manon",
    "Nathan",
    "Zoe",
    "Ethan",
    "Ines",
    "Leo",
    "Sarah",
    "Noah",
    "Camille",
    "Tom",
    "Anna",
    "Paul",
    "Eva",
    "Sacha",
    "Fahasoavana",
    "Francis",
    "Nina",
    "Hery",
    "Miora",
    "Tiana",
    "Rija",
    "Soa",
    "Aina",
    "Lova",
)


def random_username(rng: random.Random | None = None) -> str:
    rng = rng or random._inst
    return f"{rng.choice(FIRST_NAMES)}{rng.randint(1, 999)}"
