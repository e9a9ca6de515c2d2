-- Proactive per-account request budgets (`rate_limit.budget` in an integration): a budget
-- of N calls per window is kept as lanes, each lane used at most once per spacing, so no
-- window ever holds more calls than the budget, whichever instance makes them.
CREATE TABLE rate_budget_lanes (
    budget_key  TEXT NOT NULL,
    lane        INTEGER NOT NULL,
    -- Unix milliseconds (database clock) at which the lane's last call started (or is
    -- scheduled to start).
    last_ms     BIGINT NOT NULL,
    PRIMARY KEY (budget_key, lane)
);
