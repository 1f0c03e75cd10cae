-- Pushed messages: what users accepted to receive, what they turned off, and every message with its delivery.
-- Portable SQL (see DESIGN.md).

-- A bill whose arrival (or changed amount) has not been pushed yet: set by the feed and the import, cleared by the
-- fan-out that writes the new-bill messages.
ALTER TABLE bills ADD COLUMN notify_pending BIGINT NOT NULL DEFAULT 0;
CREATE INDEX bills_notify_pending ON bills (id) WHERE notify_pending = 1;

-- What a user accepted in wx.requestSubscribeMessage / my.requestSubscribeMessage, per template.
CREATE TABLE subscriptions (
    user_id      BIGINT NOT NULL REFERENCES users (id),
    template_id  TEXT NOT NULL,
    credits      BIGINT NOT NULL,           -- one-time acceptances not used yet; a send uses one
    long_term    BIGINT NOT NULL,           -- 1: a standing permission (long-term template)
    status       TEXT NOT NULL,             -- the latest answer: accept | reject | ban
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (user_id, template_id)
);

-- Kinds of message a user turned off (absent: on).
CREATE TABLE preferences (
    user_id     BIGINT NOT NULL REFERENCES users (id),
    kind        TEXT NOT NULL,              -- new_bill | due_soon | due_today | overdue | payment_received | refund_done
    enabled     BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (user_id, kind)
);

-- One row per message to send: the queue itself (claimed under leases like jobs) and its record afterwards.
CREATE TABLE messages (
    id              BIGINT PRIMARY KEY,
    kind            TEXT NOT NULL,          -- see preferences.kind
    stage           TEXT NOT NULL,          -- the reminder step (due_in_3, due_today, overdue_3, ...) or the kind
    channel         TEXT NOT NULL,          -- wechat | alipay | sms
    user_id         BIGINT,                 -- the mini-program user; NULL for an SMS
    account_no      TEXT NOT NULL,
    bill_id         BIGINT,
    recipient       TEXT NOT NULL,          -- openid, Alipay user id / open id, or phone number
    template_id     TEXT NOT NULL,          -- the platform template (the SMS template for an SMS)
    payload         TEXT NOT NULL,          -- JSON as sent: {page, data} or {text}
    dedupe_key      TEXT NOT NULL,          -- the same stage of the same bill never goes to the same recipient twice
    state           TEXT NOT NULL,          -- pending | leased | sent | failed | skipped
    attempts        BIGINT NOT NULL,
    max_attempts    BIGINT NOT NULL,
    run_at          BIGINT NOT NULL,        -- not before (quiet hours, backoff)
    lease_owner     TEXT,
    leased_until    BIGINT,
    last_error      TEXT,
    platform_reply  TEXT,                   -- the platform's answer (errcode/errmsg, msgid), cut to 500 chars
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    sent_at         BIGINT,
    CONSTRAINT messages_once UNIQUE (dedupe_key)
);

CREATE INDEX messages_due ON messages (run_at, id) WHERE state = 'pending';
CREATE INDEX messages_leased ON messages (leased_until) WHERE state = 'leased';
CREATE INDEX messages_by_account ON messages (account_no, created_at);

-- Messages sent per Beijing day, channel and kind, and the SMS they made unnecessary, for the analytics.
CREATE TABLE message_counts (
    day          TEXT NOT NULL,             -- 'YYYY-MM-DD', Beijing
    channel      TEXT NOT NULL,
    kind         TEXT NOT NULL,
    sent         BIGINT NOT NULL,
    sms_avoided  BIGINT NOT NULL,
    PRIMARY KEY (day, channel, kind)
);

-- Reminder passes done: a (day, stage) pass over the bills due for it runs once a day.
CREATE TABLE reminder_runs (
    day       TEXT NOT NULL,                -- 'YYYY-MM-DD', Beijing
    stage     TEXT NOT NULL,
    done_at   BIGINT NOT NULL,
    PRIMARY KEY (day, stage)
);

-- How far the notices of payments and refunds have been pushed.
CREATE TABLE push_cursors (
    name   TEXT PRIMARY KEY,                -- payments | refunds
    value  BIGINT NOT NULL                  -- the last payment id, or the last refund's updated_at, handled
);
