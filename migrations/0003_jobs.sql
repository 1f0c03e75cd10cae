-- Durable job queues (write-back to the marketing system, message pushes, ...): one table, one row per job.
-- Workers claim due jobs with a conditional UPDATE ... RETURNING and hold them under a lease; a lease that runs out
-- (a worker that crashed or stalled) makes the job claimable again, so nothing is lost and, while leases hold, no two
-- workers run the same job. Portable SQL (see DESIGN.md); instants are UTC epoch milliseconds.

CREATE TABLE jobs (
    id            BIGINT PRIMARY KEY,       -- application-generated, time-ordered
    queue         TEXT NOT NULL,            -- which queue: 'writeback', 'push', ...
    payload       TEXT NOT NULL,            -- JSON, as the queue's handler reads it
    state         TEXT NOT NULL,            -- 'pending' | 'leased' | 'done' | 'failed'
    attempts      BIGINT NOT NULL,          -- claims so far (a claim counts as an attempt)
    max_attempts  BIGINT NOT NULL,          -- after this many attempts a failure is final ('failed')
    run_at        BIGINT NOT NULL,          -- not before: the first run, or the next retry after a backoff
    lease_owner   TEXT,                     -- the worker holding the lease, while 'leased'
    leased_until  BIGINT,                   -- the lease's end, while 'leased'; past it the job is claimable again
    last_error    TEXT,                     -- the latest failure, sanitized by the caller (no secrets), cut to 500 chars
    dedupe_key    TEXT,                     -- optional: at most one job per (queue, dedupe_key), whatever its state
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

-- Claiming: the due jobs of a queue, oldest run_at first. Partial, so done jobs do not weigh on it.
CREATE INDEX jobs_pending_by_run_at ON jobs (queue, run_at, id) WHERE state = 'pending';

-- Recovering expired leases.
CREATE INDEX jobs_leased_by_expiry ON jobs (queue, leased_until) WHERE state = 'leased';

-- Status and operator commands: counts by state, failed jobs to retry.
CREATE INDEX jobs_by_state ON jobs (queue, state);

-- Enqueueing the same thing twice (the same settlement's write-back, the same reminder) makes one job.
CREATE UNIQUE INDEX jobs_dedupe ON jobs (queue, dedupe_key) WHERE dedupe_key IS NOT NULL;
