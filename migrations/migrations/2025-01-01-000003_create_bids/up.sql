-- Bids: a master's offer on an order; at most one active per master and order, at most one
-- selected per order.
CREATE TABLE bids (
    id         BIGSERIAL PRIMARY KEY,
    order_id   BIGINT      NOT NULL,
    master_id  BIGINT      NOT NULL,
    price      BIGINT      NOT NULL,
    note       TEXT        NOT NULL DEFAULT '',
    status     TEXT        NOT NULL DEFAULT 'active',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT bids_order_id_fkey FOREIGN KEY (order_id) REFERENCES orders (id),
    CONSTRAINT bids_master_id_fkey FOREIGN KEY (master_id) REFERENCES users (id),
    CONSTRAINT bids_price_non_negative CHECK (price >= 0),
    CONSTRAINT bids_status_known CHECK (status IN ('active', 'selected', 'rejected'))
);

-- The bids of an order, in id order.
CREATE INDEX bids_order_id_id_idx ON bids (order_id, id);
-- A master's bids (and the foreign key's lookups).
CREATE INDEX bids_master_id_idx ON bids (master_id);
-- One active bid per master and order.
CREATE UNIQUE INDEX bids_one_active_per_master ON bids (order_id, master_id) WHERE status = 'active';
-- One selected bid per order.
CREATE UNIQUE INDEX bids_one_selected_per_order ON bids (order_id) WHERE status = 'selected';
