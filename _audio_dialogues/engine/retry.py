"""The one retry policy of the long commands: exponential backoff with jitter, honouring the server's Retry-After."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Seconds to wait before retry ``attempt`` (1-based): ``base * 2**(attempt-1)`` capped at ``maximum``,
    scaled by a random factor in [0.5, 1) so that many clients do not retry in step; or the server's
    ``Retry-After`` (capped at ``maximum``) when it gave one."""

    base: float = 1.0
    maximum: float = 60.0

    def delay(self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.maximum)
        draw = (rng or random).random()
        return min(self.base * 2 ** (attempt - 1), self.maximum) * (0.5 + draw / 2)
