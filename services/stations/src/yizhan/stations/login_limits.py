"""How password guessing is slowed down (the shared PostgreSQL rate limiter, libs/common
ratelimit.py), for the API's token endpoint and the console's login alike:

- per account and client: a few free failures, then a doubling wait (at most 15 minutes);
- per client, over all accounts: spraying many usernames gets the same treatment;
- per account, over all clients: a distributed guess slows every client down, but each is
  paced by its own last attempt and waits at most `login_account_max_delay_seconds`, so an
  attacker cannot keep the real operator out.

A successful login takes its attempt back."""

from dataclasses import dataclass
from datetime import timedelta

from yizhan.common.ratelimit import Check, RateLimiter, Rule
from yizhan.stations.settings import Settings

WINDOW = timedelta(minutes=15)
# The first wait past the free attempts; each further attempt doubles it.
FIRST_DELAY_SECONDS = 5.0
MAX_DELAY_SECONDS = 15 * 60.0


@dataclass(frozen=True)
class LoginLimits:
    """The login rules, applied through the shared limiter."""

    limiter: RateLimiter
    pair: Rule
    client: Rule
    account: Rule

    @classmethod
    def from_settings(cls, limiter: RateLimiter, settings: Settings) -> "LoginLimits":
        """The rules as configured."""
        return cls(
            limiter,
            pair=Rule(
                "login-pair",
                settings.login_free_attempts,
                WINDOW,
                FIRST_DELAY_SECONDS,
                MAX_DELAY_SECONDS,
            ),
            client=Rule(
                "login-client",
                settings.login_free_attempts_per_client,
                WINDOW,
                FIRST_DELAY_SECONDS,
                MAX_DELAY_SECONDS,
            ),
            account=Rule(
                "login-account",
                settings.login_free_attempts_per_account,
                WINDOW,
                FIRST_DELAY_SECONDS,
                settings.login_account_max_delay_seconds,
            ),
        )

    def _checks(self, username: str, client: str) -> list[Check]:
        pair = f"{username}|{client}"
        return [
            Check(self.pair, pair),
            Check(self.client, client),
            Check(self.account, username, paced_by=pair),
        ]

    async def attempt(self, username: str, client: str) -> int | None:
        """Count a login attempt; the seconds to wait first when it comes too soon."""
        return await self.limiter.attempt(self._checks(username[:64], client))

    async def succeeded(self, username: str, client: str) -> None:
        """The password was right: the attempt does not count against anyone."""
        await self.limiter.forgive(self._checks(username[:64], client))
