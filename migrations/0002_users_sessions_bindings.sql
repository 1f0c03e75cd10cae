-- Customers (mini-program users), their sessions, and the electricity accounts they bind.

-- One row per platform identity: (platform, appid, subject) is how WeChat and Alipay name a user to one app.
CREATE TABLE users (
    id                 BIGINT PRIMARY KEY,
    platform           TEXT NOT NULL,            -- 'wechat' | 'alipay'
    appid              TEXT NOT NULL,            -- the mini-program's app id on that platform
    subject            TEXT NOT NULL,            -- WeChat openid; Alipay user_id, or open_id for OpenID-only apps
    unionid            TEXT,                     -- WeChat unionid, when the app is bound to an Open Platform account
    alipay_user_id     TEXT,                     -- Alipay's 2088... id, when the app receives it
    alipay_open_id     TEXT,                     -- Alipay's open_id, when the app receives it
    session_key        TEXT,                     -- WeChat session_key; never leaves the server
    phone              TEXT,                     -- phone number verified through the platform (optional step)
    phone_verified_at  BIGINT,
    created_at         BIGINT NOT NULL,
    last_login_at      BIGINT NOT NULL,
    CONSTRAINT users_one_per_identity UNIQUE (platform, appid, subject)
);

-- Refresh tokens, stored as SHA-256 hashes. Each use rotates the token within its family; a token used twice
-- reveals a theft, and the whole family is revoked.
CREATE TABLE refresh_tokens (
    token_hash  TEXT PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users (id),
    family_id   BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,                          -- set when rotated
    revoked_at  BIGINT,
    created_at  BIGINT NOT NULL
);

CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);

-- A user's electricity accounts. A family shares an account; a user may hold several (home, shop).
CREATE TABLE bindings (
    id          BIGINT PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users (id),
    account_no  TEXT NOT NULL REFERENCES accounts (account_no),
    label       TEXT NOT NULL,                   -- the user's name for it, e.g. 家 or 店铺
    is_default  BIGINT NOT NULL,                 -- 1 for the account the mini-program opens first
    created_at  BIGINT NOT NULL,
    CONSTRAINT bindings_once_per_user UNIQUE (user_id, account_no)
);

-- Who is bound to an account (customer service, new-bill pushes).
CREATE INDEX bindings_by_account ON bindings (account_no);

-- Every binding attempt and unbinding, for the audit trail: who, which account (as typed), what came of it, when.
CREATE TABLE binding_events (
    id          BIGINT PRIMARY KEY,
    user_id     BIGINT NOT NULL,
    account_no  TEXT NOT NULL,
    event       TEXT NOT NULL,                   -- bound | already_bound | rejected | rate_limited | limit_reached | unbound
    proof_kind  TEXT NOT NULL,                   -- phone_last4 | verified_phone | none
    created_at  BIGINT NOT NULL
);

CREATE INDEX binding_events_by_user ON binding_events (user_id, created_at);
CREATE INDEX binding_events_by_account ON binding_events (account_no, created_at);
