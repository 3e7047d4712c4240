-- Periodic work claimed per period, so that the sweep runs once per period however many
-- workers (on however many machines) queue it: the first worker to move `until` past now
-- runs it, the others see the claim and skip.

CREATE TABLE periodic_claims (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until TEXT NOT NULL
);
