-- Payments: orders placed on WeChat Pay or Alipay for an account's bills, the payments the platforms confirm, what
-- becomes of money paid twice, refunds, and the events staff must look at. Portable SQL (see DESIGN.md).

-- One row per order placed on a platform. `order_no` is the out_trade_no on both platforms.
CREATE TABLE orders (
    id            BIGINT PRIMARY KEY,
    order_no      TEXT NOT NULL,            -- 'EB' + id: unique per merchant, valid on WeChat Pay and Alipay
    user_id       BIGINT NOT NULL REFERENCES users (id),
    account_no    TEXT NOT NULL REFERENCES accounts (account_no),
    platform      TEXT NOT NULL,            -- 'wechat' | 'alipay': the user's platform
    payer         TEXT NOT NULL,            -- WeChat openid; Alipay user_id, or open_id for OpenID-only apps
    amount_fen    BIGINT NOT NULL,          -- what the payer is asked for: the bills' amount due, late fees included
    fingerprint   TEXT NOT NULL,            -- the bills and their amounts: asking again for the same is not a change
    state         TEXT NOT NULL,            -- pending | paid | closed | expired | failed | flagged
    platform_ref  TEXT,                     -- WeChat prepay_id or Alipay trade_no, once the platform answered
    expires_at    BIGINT NOT NULL,          -- after this the order is closed on the platform
    paid_at       BIGINT,                   -- the platform's time of payment
    flag          TEXT,                     -- why staff must look at it (amount_mismatch)
    next_poll_at  BIGINT NOT NULL,          -- while pending: when the polling job next asks the platform about it
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    CONSTRAINT orders_order_no UNIQUE (order_no)
);

-- The polling job: pending orders by when they are next due. Partial, so settled orders do not weigh on it.
CREATE INDEX orders_pending_by_poll ON orders (next_poll_at) WHERE state = 'pending';
-- An account's orders for staff and for the bill detail.
CREATE INDEX orders_by_account ON orders (account_no, created_at);

-- The bills an order pays and what it asked for each, frozen when the order was opened.
CREATE TABLE order_bills (
    order_id       BIGINT NOT NULL REFERENCES orders (id),
    bill_id        BIGINT NOT NULL REFERENCES bills (id),
    principal_fen  BIGINT NOT NULL,         -- the unpaid part of the bill at that time
    late_fee_fen   BIGINT NOT NULL,         -- the late fee accrued at that time
    PRIMARY KEY (order_id, bill_id)
);

CREATE INDEX order_bills_by_bill ON order_bills (bill_id);

-- A bill is in at most one open order: the row exists while that order is pending.
CREATE TABLE open_bill_orders (
    bill_id   BIGINT PRIMARY KEY REFERENCES bills (id),
    order_id  BIGINT NOT NULL REFERENCES orders (id)
);

CREATE INDEX open_bill_orders_by_order ON open_bill_orders (order_id);

-- One row per payment a platform confirmed (by a verified notify or a verified query answer). The unique
-- (platform, transaction_id) makes every later confirmation of the same payment a no-op.
CREATE TABLE payments (
    id              BIGINT PRIMARY KEY,
    order_id        BIGINT NOT NULL REFERENCES orders (id),
    platform        TEXT NOT NULL,
    transaction_id  TEXT NOT NULL,          -- WeChat transaction_id, Alipay trade_no
    amount_fen      BIGINT NOT NULL,        -- what the platform says was paid
    applied_fen     BIGINT NOT NULL,        -- what settled bills
    surplus_fen     BIGINT NOT NULL,        -- paid for bills already settled: credited or refunded
    outcome         TEXT NOT NULL,          -- settled | duplicate | amount_mismatch
    surplus_handling TEXT,                  -- credit | refund, when surplus_fen > 0
    source          TEXT NOT NULL,          -- notify | query
    paid_at         BIGINT NOT NULL,        -- the platform's time of payment
    received_at     BIGINT NOT NULL,
    CONSTRAINT payments_once UNIQUE (platform, transaction_id)
);

CREATE INDEX payments_by_order ON payments (order_id);

-- Money kept on an account (a second payment for settled bills, when not refunded automatically).
CREATE TABLE account_credits (
    id          BIGINT PRIMARY KEY,
    account_no  TEXT NOT NULL REFERENCES accounts (account_no),
    payment_id  BIGINT NOT NULL REFERENCES payments (id),
    amount_fen  BIGINT NOT NULL,
    state       TEXT NOT NULL,              -- held | refunded
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    CONSTRAINT account_credits_once UNIQUE (payment_id)
);

CREATE INDEX account_credits_by_account ON account_credits (account_no);

-- Refunds asked of a platform. `out_refund_no` is the idempotency key sent with every attempt.
CREATE TABLE refunds (
    id                  BIGINT PRIMARY KEY,
    payment_id          BIGINT NOT NULL REFERENCES payments (id),
    out_refund_no       TEXT NOT NULL,
    amount_fen          BIGINT NOT NULL,
    reason              TEXT NOT NULL,
    state               TEXT NOT NULL,      -- pending | processing | succeeded | failed
    platform_refund_id  TEXT,
    requested_by        TEXT NOT NULL,      -- 'system' (duplicate payment) or the staff member
    last_error          TEXT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    CONSTRAINT refunds_out_refund_no UNIQUE (out_refund_no)
);

CREATE INDEX refunds_by_payment ON refunds (payment_id);

-- What staff must look at: unknown order numbers, amount mismatches, duplicate payments, failed refunds. One row per
-- (kind, platform, reference), counting repeats (a platform retries an unanswered notify for a day).
CREATE TABLE payment_incidents (
    id             BIGINT PRIMARY KEY,
    kind           TEXT NOT NULL,           -- unknown_order | amount_mismatch | duplicate_payment | refund_failed
    platform       TEXT NOT NULL,
    reference      TEXT NOT NULL,           -- the order number (or refund number) concerned
    detail         TEXT NOT NULL,           -- JSON: amounts, transaction ids; never a secret
    occurrences    BIGINT NOT NULL,
    first_seen_at  BIGINT NOT NULL,
    last_seen_at   BIGINT NOT NULL,
    resolved_at    BIGINT,
    CONSTRAINT payment_incidents_once UNIQUE (kind, platform, reference)
);

CREATE INDEX payment_incidents_open ON payment_incidents (last_seen_at) WHERE resolved_at IS NULL;
