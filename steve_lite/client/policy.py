"""When to retry and how long to wait: the decisions the sync and async clients share."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

import httpx

from steve_lite.client.errors import WAIT_TIMEOUT, SteveError
from steve_lite.client.protocol import Json

FINAL_STATES = frozenset({"completed", "failed", "expired"})


@dataclass(frozen=True)
class RetryPolicy:
    """``rate_limit_retries``: how many times a 429 is retried after its ``Retry-After`` (0:
    never), waiting at most ``max_retry_after`` seconds each time. ``upload_retries``: how many
    times a file upload is retried after a network error or a 5xx, with exponential backoff
    from ``upload_backoff`` seconds."""

    rate_limit_retries: int = 0
    max_retry_after: float = 60.0
    upload_retries: int = 3
    upload_backoff: float = 0.25

    def rate_limit_delay(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before sending again the call that got ``response``, or None."""
        if response.status_code != 429 or attempt >= self.rate_limit_retries:
            return None
        delay = retry_after_seconds(response.headers.get("retry-after"))
        if delay is None:
            return min(self.max_retry_after, 2.0**attempt)
        return delay if delay <= self.max_retry_after else None

    def upload_delay(self, status: int | None, attempt: int) -> float | None:
        """Seconds to wait before retrying an upload that got ``status`` (None: no answer), or
        None when it must not be retried."""
        retryable = status is None or status >= 500
        if not retryable or attempt >= self.upload_retries:
            return None
        return self.upload_backoff * 2.0**attempt


def retry_after_seconds(value: str | None) -> float | None:
    """A ``Retry-After`` header (seconds or an HTTP date) in seconds from now."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


@dataclass
class Poll:
    """The schedule of one ``wait``: polls spaced from ``initial`` seconds, growing by
    ``factor`` up to ``maximum``, until the job is final or ``timeout`` seconds have passed."""

    session_id: str
    timeout: float
    initial: float = 0.25
    factor: float = 1.5
    maximum: float = 3.0
    _deadline: float = field(init=False)
    _delay: float = field(init=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout
        self._delay = self.initial

    def delay_after(self, job: Json) -> float | None:
        """None when ``job`` is final, else the seconds to sleep before the next poll; raise
        SteveError (``timeout``) when the deadline has passed."""
        if job.get("state") in FINAL_STATES:
            return None
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise SteveError(
                WAIT_TIMEOUT,
                f"job {self.session_id} is still {job.get('state')!r} after {self.timeout:g} s",
            )
        delay, self._delay = self._delay, min(self.maximum, self._delay * self.factor)
        return min(delay, remaining)
