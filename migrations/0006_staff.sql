-- Customer service: staff accounts, the append-only audit log of everything staff look at or do, what each payment
-- paid on each bill (so that a refund can be taken back off the bills), staff refunds, and the payment platforms'
-- notifies as received. Portable SQL (see DESIGN.md). The audit log's append-only trigger is dialect-specific and is
-- installed by `db::audit_guard` after the migrations.

-- One row per member of customer-service staff.
CREATE TABLE staff (
    id             BIGINT PRIMARY KEY,
    name           TEXT NOT NULL,           -- the login name
    role           TEXT NOT NULL,           -- viewer | operator | admin
    password_hash  TEXT NOT NULL,           -- Argon2id, PHC string format
    failed_logins  BIGINT NOT NULL,         -- consecutive failed logins since the last success or lock
    locked_until   BIGINT,                  -- no login before this instant
    disabled       BIGINT NOT NULL,         -- 1: can no longer log in, and its tokens stop working
    sessions_valid_after BIGINT,            -- tokens issued before this instant (whole seconds) no longer work
    last_login_at  BIGINT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    CONSTRAINT staff_name_once UNIQUE (name)
);

-- Every lookup and action of staff, and every login attempt. Rows are only ever inserted.
CREATE TABLE audit_log (
    id           BIGINT PRIMARY KEY,        -- time-ordered
    at           BIGINT NOT NULL,
    staff_id     BIGINT,                    -- NULL for a login attempt under an unknown name
    staff_name   TEXT NOT NULL,
    action       TEXT NOT NULL,             -- login | search | view_account | reveal_account | unbind | refund | ...
    record_kind  TEXT NOT NULL,             -- account | user | order | binding | message | staff | audit | ''
    record_id    TEXT NOT NULL,
    reason       TEXT,                      -- required for reveals and actions
    outcome      TEXT NOT NULL,             -- ok | denied | failed
    ip           TEXT NOT NULL,             -- where the request came from
    user_agent   TEXT NOT NULL,
    detail       TEXT                       -- JSON: amounts, numbers, what changed; never unmasked personal data
);

CREATE INDEX audit_log_by_time ON audit_log (at);
CREATE INDEX audit_log_by_staff ON audit_log (staff_name, at);
CREATE INDEX audit_log_by_record ON audit_log (record_kind, record_id, at);

-- What a settled payment paid on each bill, written by the settlement: a refund is taken back from these.
CREATE TABLE payment_bills (
    payment_id     BIGINT NOT NULL REFERENCES payments (id),
    bill_id        BIGINT NOT NULL REFERENCES bills (id),
    principal_fen  BIGINT NOT NULL,
    late_fee_fen   BIGINT NOT NULL,
    PRIMARY KEY (payment_id, bill_id)
);

CREATE INDEX payment_bills_by_bill ON payment_bills (bill_id);

-- Refunds asked by staff beside those of surplus money; what part of a refund came out of the payment's surplus
-- (the rest comes off bills, in refund_bills); when a succeeded refund was taken off the bills (exactly once).
ALTER TABLE refunds ADD COLUMN kind TEXT NOT NULL DEFAULT 'surplus';      -- surplus | staff
ALTER TABLE refunds ADD COLUMN from_surplus_fen BIGINT NOT NULL DEFAULT 0;
UPDATE refunds SET from_surplus_fen = amount_fen WHERE kind = 'surplus';

-- What a staff refund takes back from each bill the payment paid.
CREATE TABLE refund_bills (
    refund_id      BIGINT NOT NULL REFERENCES refunds (id),
    bill_id        BIGINT NOT NULL REFERENCES bills (id),
    principal_fen  BIGINT NOT NULL,
    late_fee_fen   BIGINT NOT NULL,
    PRIMARY KEY (refund_id, bill_id)
);

-- Verified notifies from WeChat Pay and Alipay, as received, for staff answering "I paid but...".
CREATE TABLE payment_notifies (
    id              BIGINT PRIMARY KEY,
    platform        TEXT NOT NULL,          -- wechat | alipay
    kind            TEXT NOT NULL,          -- payment | refund
    order_no        TEXT NOT NULL,          -- out_trade_no
    out_refund_no   TEXT,                   -- for a refund notify
    transaction_id  TEXT,                   -- WeChat transaction_id / Alipay trade_no
    reported_state  TEXT NOT NULL,          -- the platform's state: SUCCESS, TRADE_SUCCESS, REFUND SUCCESS, ...
    amount_fen      BIGINT,
    outcome         TEXT NOT NULL,          -- what we made of it: settled | duplicate | already_settled | ...
    received_at     BIGINT NOT NULL
);

CREATE INDEX payment_notifies_by_order ON payment_notifies (order_no, received_at);

-- The order page shows the incidents about an order and its refunds.
CREATE INDEX payment_incidents_by_reference ON payment_incidents (reference);

-- Staff look users up by their platform ids and verified phone, and a user's orders and messages.
CREATE INDEX users_by_subject ON users (subject);
CREATE INDEX users_by_alipay_user_id ON users (alipay_user_id);
CREATE INDEX users_by_alipay_open_id ON users (alipay_open_id);
CREATE INDEX users_by_phone ON users (phone);
CREATE INDEX users_by_unionid ON users (unionid);
CREATE INDEX orders_by_user ON orders (user_id, created_at);
CREATE INDEX messages_by_user ON messages (user_id, created_at);
