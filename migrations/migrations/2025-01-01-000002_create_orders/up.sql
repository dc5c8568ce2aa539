-- Orders: what a client asks for; assigned to a master when a bid is selected.
CREATE TABLE orders (
    id          BIGSERIAL PRIMARY KEY,
    client_id   BIGINT      NOT NULL,
    master_id   BIGINT      NULL,
    category    TEXT        NOT NULL,
    address     TEXT        NOT NULL,
    description TEXT        NOT NULL DEFAULT '',
    when_at     TIMESTAMPTZ NOT NULL,
    status      TEXT        NOT NULL DEFAULT 'new',
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT orders_client_id_fkey FOREIGN KEY (client_id) REFERENCES users (id),
    CONSTRAINT orders_master_id_fkey FOREIGN KEY (master_id) REFERENCES users (id),
    CONSTRAINT orders_status_known CHECK (status IN ('new', 'assigned', 'done', 'cancelled')),
    -- A new order has no master yet; an assigned or done one has its master.
    CONSTRAINT orders_new_has_no_master CHECK (status <> 'new' OR master_id IS NULL),
    CONSTRAINT orders_assigned_has_master CHECK (status NOT IN ('assigned', 'done') OR master_id IS NOT NULL)
);

-- The order list filtered by status and category, in id order (keyset pagination).
CREATE INDEX orders_status_category_id_idx ON orders (status, category, id);
-- A client's orders, in id order.
CREATE INDEX orders_client_id_id_idx ON orders (client_id, id);
-- Orders assigned to a master (and the foreign key's lookups).
CREATE INDEX orders_master_id_idx ON orders (master_id) WHERE master_id IS NOT NULL;
