-- A billing application: partitions by the dozen, an aggregate over a function of its own, sequences,
-- foreign keys, triggers, a view, a materialized view, large objects, and the extension's type and function.
CREATE SCHEMA billing;
CREATE SEQUENCE billing.invoice_number START 1000 INCREMENT 7;

CREATE TABLE billing.customers (
    id serial PRIMARY KEY,
    name text NOT NULL UNIQUE,
    attrs hstore,
    updated_at timestamptz NOT NULL DEFAULT '2026-01-01 00:00:00+00'
);

CREATE TABLE billing.invoices (
    id bigint NOT NULL DEFAULT nextval('billing.invoice_number'),
    issued_on date NOT NULL,
    customer_id int NOT NULL REFERENCES billing.customers,
    total relocate_demo.amount,
    currency text NOT NULL DEFAULT relocate_demo.setting('currency'),
    PRIMARY KEY (id, issued_on)
) PARTITION BY RANGE (issued_on);

DO $$
BEGIN
    FOR m IN 0..54 LOOP
        EXECUTE format('CREATE TABLE billing.%I PARTITION OF billing.invoices FOR VALUES FROM (%L) TO (%L)',
            'invoices_' || to_char(date '2021-01-01' + make_interval(months => m), 'YYYY_MM'),
            date '2021-01-01' + make_interval(months => m), date '2021-01-01' + make_interval(months => m + 1));
    END LOOP;
END $$;
CREATE INDEX invoices_customer ON billing.invoices (customer_id);

CREATE TABLE billing.invoice_lines (
    id bigserial PRIMARY KEY,
    invoice_id bigint NOT NULL,
    issued_on date NOT NULL,
    amount numeric(12, 2) NOT NULL CHECK (amount <> 0),
    FOREIGN KEY (invoice_id, issued_on) REFERENCES billing.invoices ON DELETE CASCADE
);
CREATE INDEX invoice_lines_invoice ON billing.invoice_lines (invoice_id, issued_on);

CREATE FUNCTION billing.add_amount(state numeric, amount numeric) RETURNS numeric
    LANGUAGE sql IMMUTABLE AS $$ SELECT state + coalesce(amount, 0) $$;
CREATE AGGREGATE billing.total_of(numeric) (SFUNC = billing.add_amount, STYPE = numeric, INITCOND = '0');

CREATE FUNCTION billing.touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := '2026-02-01 00:00:00+00';
    RETURN NEW;
END $$;
CREATE TRIGGER customers_touch BEFORE UPDATE ON billing.customers FOR EACH ROW EXECUTE FUNCTION billing.touch();

INSERT INTO billing.customers (name, attrs) SELECT 'customer ' || g, hstore('tier', (g % 3)::text) FROM generate_series(1, 120) g;
INSERT INTO billing.invoices (issued_on, customer_id, total)
SELECT date '2021-01-01' + (g % 1670), 1 + g % 120, relocate_demo.amount_of(g * 1.25, 'EUR') FROM generate_series(1, 3000) g;
INSERT INTO billing.invoice_lines (invoice_id, issued_on, amount)
SELECT i.id, i.issued_on, (n * 3.5)::numeric(12, 2) FROM billing.invoices i, generate_series(1, 2) n;
UPDATE billing.customers SET name = name || ' (vip)' WHERE id % 40 = 0;

CREATE VIEW billing.customer_totals AS
SELECT c.id, c.name, billing.total_of(l.amount) AS total
FROM billing.customers c JOIN billing.invoices i ON i.customer_id = c.id JOIN billing.invoice_lines l ON l.invoice_id = i.id AND l.issued_on = i.issued_on
GROUP BY c.id, c.name;
CREATE MATERIALIZED VIEW billing.monthly AS
SELECT date_trunc('month', issued_on)::date AS month, count(*) AS invoices FROM billing.invoices GROUP BY 1;
CREATE UNIQUE INDEX monthly_month ON billing.monthly (month);

CREATE TABLE billing.documents (id int PRIMARY KEY, content oid NOT NULL);
INSERT INTO billing.documents SELECT g, lo_from_bytea(91000 + g, convert_to(repeat('invoice document ' || g || ' ', 200), 'UTF8')) FROM generate_series(1, 3) g;
