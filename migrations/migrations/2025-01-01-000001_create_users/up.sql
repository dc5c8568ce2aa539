-- Users: clients, masters, partners and admins, known by their Telegram id.
CREATE TABLE users (
    id         BIGSERIAL PRIMARY KEY,
    tg_id      BIGINT      NOT NULL,
    role       TEXT        NOT NULL,
    name       TEXT        NOT NULL,
    phone      TEXT        NULL,
    is_active  BOOLEAN     NOT NULL DEFAULT TRUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT users_tg_id_key UNIQUE (tg_id),
    CONSTRAINT users_phone_key UNIQUE (phone),
    CONSTRAINT users_tg_id_positive CHECK (tg_id > 0),
    CONSTRAINT users_role_known CHECK (role IN ('client', 'master', 'partner', 'admin'))
);
