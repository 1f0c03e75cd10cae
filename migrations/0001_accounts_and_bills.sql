-- Accounts and bills as the utility's marketing system (营销系统), the system of record, feeds them to us.
-- Portable SQL: runs unchanged on SQLite and PostgreSQL through sqlx's Any driver (see DESIGN.md):
-- BIGINT and TEXT only, instants as UTC epoch milliseconds, business dates as 'YYYY-MM-DD' Beijing dates.

-- One row per electricity account (户号).
CREATE TABLE accounts (
    account_no    TEXT PRIMARY KEY,          -- 8 to 20 digits
    holder_name   TEXT NOT NULL,             -- shown masked to customers and staff by default
    address       TEXT NOT NULL,
    phone         TEXT NOT NULL,             -- registered phone; its last four digits prove a binding
    account_type  TEXT NOT NULL,             -- 'residential' | 'non_residential' (late-fee rates differ)
    supply_unit   TEXT NOT NULL,             -- the supply company or office serving the account
    content_hash  TEXT NOT NULL,             -- SHA-256 of the fed content: a re-sent account is 'unchanged'
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

-- Customer service looks accounts up by registered phone.
CREATE INDEX accounts_by_phone ON accounts (phone);

-- One row per account and billing period; a later revision from the marketing system replaces the row's content.
CREATE TABLE bills (
    id             BIGINT PRIMARY KEY,       -- application-generated, time-ordered
    account_no     TEXT NOT NULL REFERENCES accounts (account_no),
    period         TEXT NOT NULL,            -- 'YYYY-MM'
    issue_date     TEXT NOT NULL,            -- 'YYYY-MM-DD', Beijing
    due_date       TEXT NOT NULL,            -- 'YYYY-MM-DD', Beijing; late fees run from the day after
    revision       BIGINT NOT NULL,          -- only a higher revision replaces the content
    reading_start  BIGINT NOT NULL,
    reading_end    BIGINT NOT NULL,
    multiplier     BIGINT NOT NULL,
    usage_kwh      BIGINT NOT NULL,
    tier_lines     TEXT NOT NULL,            -- JSON array of {tier, kwh, unit_price, amount_fen}
    tou_lines      TEXT NOT NULL,            -- JSON array of {band, kwh, unit_price, amount_fen}
    other_charges  TEXT NOT NULL,            -- JSON array of {name, amount_fen}
    total_fen      BIGINT NOT NULL,          -- amount billed, in fen; the lines sum to it
    paid_fen       BIGINT NOT NULL,          -- amount paid so far, in fen
    status         TEXT NOT NULL,            -- 'unpaid' | 'partially_paid' | 'paid'; overdue is read off due_date
    content_hash   TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    CONSTRAINT bills_one_per_period UNIQUE (account_no, period)
);

-- The unique constraint above serves an account's bills newest first; reminders scan unpaid bills by due date.
CREATE INDEX bills_unpaid_by_due_date ON bills (due_date) WHERE status <> 'paid';

-- Signatures of feed requests already served, so a captured request cannot be replayed within its time window.
CREATE TABLE feed_requests (
    signature    TEXT PRIMARY KEY,
    received_at  BIGINT NOT NULL
);

CREATE INDEX feed_requests_by_age ON feed_requests (received_at);
