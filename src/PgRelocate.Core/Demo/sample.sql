-- The demo's sample database: a small shop of realistic shape. Run as the database owner (not a superuser).
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE EXTENSION IF NOT EXISTS hstore;

CREATE SCHEMA shop;
CREATE SCHEMA billing;

CREATE TYPE shop.order_status AS ENUM ('pending', 'paid', 'shipped', 'cancelled');

CREATE TABLE shop.customers (
    id          bigserial PRIMARY KEY,
    email       text NOT NULL UNIQUE,
    name        text NOT NULL,
    country     char(2) NOT NULL DEFAULT 'US',
    attributes  hstore,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE shop.products (
    id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sku         text NOT NULL UNIQUE,
    title       text NOT NULL,
    price       numeric(10, 2) NOT NULL CHECK (price >= 0),
    details     jsonb NOT NULL DEFAULT '{}',
    thumbnail   bytea
);
CREATE INDEX products_details_gin ON shop.products USING gin (details);

CREATE TABLE shop.orders (
    id           bigserial PRIMARY KEY,
    customer_id  bigint NOT NULL REFERENCES shop.customers (id),
    status       shop.order_status NOT NULL DEFAULT 'pending',
    total        numeric(12, 2) NOT NULL DEFAULT 0,
    placed_at    timestamptz NOT NULL,
    updated_at   timestamptz
);
CREATE INDEX orders_customer_placed ON shop.orders (customer_id, placed_at);

CREATE TABLE shop.order_items (
    order_id    bigint NOT NULL REFERENCES shop.orders (id) ON DELETE CASCADE,
    line        smallint NOT NULL,
    product_id  integer NOT NULL REFERENCES shop.products (id),
    quantity    integer NOT NULL CHECK (quantity > 0),
    unit_price  numeric(10, 2) NOT NULL,
    PRIMARY KEY (order_id, line)
);

CREATE TABLE billing.invoices (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    order_id    bigint NOT NULL REFERENCES shop.orders (id),
    amount      numeric(12, 2) NOT NULL,
    pdf_oid     oid,
    issued_at   timestamptz NOT NULL DEFAULT now(),
    secret_hash text NOT NULL
);

CREATE TABLE billing.audit_log (
    at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor   text NOT NULL,
    action  text NOT NULL,
    payload jsonb
);

-- A function with a trigger: keep orders.updated_at current.
CREATE FUNCTION shop.touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END $$;
CREATE TRIGGER orders_touch BEFORE UPDATE ON shop.orders FOR EACH ROW EXECUTE FUNCTION shop.touch_updated_at();

-- Data: deterministic, a few hundred thousand rows.
INSERT INTO shop.customers (email, name, country, attributes, created_at)
SELECT 'customer' || g || '@example.com', 'Customer ' || g, (ARRAY['US', 'GB', 'DE', 'FR', 'JP'])[1 + g % 5],
       hstore('tier', CASE WHEN g % 10 = 0 THEN 'gold' ELSE 'standard' END),
       timestamptz '2024-01-01 00:00:00+00' + g * interval '7 minutes'
FROM generate_series(1, 20000) g;

INSERT INTO shop.products (sku, title, price, details, thumbnail)
SELECT 'SKU-' || lpad(g::text, 5, '0'), 'Product ' || g, (g % 500) + 0.99,
       jsonb_build_object('color', (ARRAY['red', 'green', 'blue'])[1 + g % 3], 'weight_g', g % 1000, 'tags', jsonb_build_array('t' || g % 7, 't' || g % 11)),
       CASE WHEN g % 4 = 0 THEN decode(md5(g::text), 'hex') END
FROM generate_series(1, 2000) g;

INSERT INTO shop.orders (customer_id, status, total, placed_at)
SELECT 1 + (g * 7919) % 20000, (ARRAY['pending', 'paid', 'shipped', 'cancelled']::shop.order_status[])[1 + g % 4], 0,
       timestamptz '2024-06-01 00:00:00+00' + g * interval '1 minute'
FROM generate_series(1, 100000) g;

INSERT INTO shop.order_items (order_id, line, product_id, quantity, unit_price)
SELECT o, l, 1 + (o * 31 + l * 17) % 2000, 1 + (o + l) % 5, ((o * 31 + l * 17) % 500) + 0.99
FROM generate_series(1, 100000) o, generate_series(1, 2) l;

UPDATE shop.orders o SET total = s.sum
FROM (SELECT order_id, sum(quantity * unit_price) AS sum FROM shop.order_items GROUP BY order_id) s
WHERE s.order_id = o.id;

INSERT INTO billing.invoices (order_id, amount, issued_at, secret_hash)
SELECT o.id, o.total, o.placed_at + interval '1 hour', encode(digest(o.id::text, 'sha256'), 'hex')
FROM shop.orders o WHERE o.status IN ('paid', 'shipped');

INSERT INTO billing.audit_log (at, actor, action, payload)
SELECT timestamptz '2024-06-01 00:00:00+00' + g * interval '30 seconds', 'user' || g % 50, (ARRAY['login', 'checkout', 'refund'])[1 + g % 3],
       CASE WHEN g % 3 = 0 THEN jsonb_build_object('ip', '10.0.' || g % 255 || '.' || g % 253) END
FROM generate_series(1, 30000) g;

-- A large object: an invoice PDF.
UPDATE billing.invoices SET pdf_oid = lo_from_bytea(0, convert_to('%PDF-1.4 sample invoice', 'UTF8'))
WHERE id = (SELECT id FROM billing.invoices ORDER BY issued_at LIMIT 1);

-- A view and a materialized view.
CREATE VIEW shop.order_totals AS
SELECT c.country, count(*) AS orders, sum(o.total) AS revenue
FROM shop.orders o JOIN shop.customers c ON c.id = o.customer_id
GROUP BY c.country;

CREATE MATERIALIZED VIEW shop.daily_revenue AS
SELECT date_trunc('day', placed_at) AS day, sum(total) AS revenue, count(*) AS orders
FROM shop.orders GROUP BY 1;
CREATE UNIQUE INDEX daily_revenue_day ON shop.daily_revenue (day);

-- A sequence in use beyond its table's rows.
CREATE SEQUENCE billing.invoice_number START 1000;
SELECT setval('billing.invoice_number', 41999);

ANALYZE;
