-- What the online demo's application adds to the sample: a counter row it updates on every order (an
-- UPDATE-heavy hot row). Run as the database owner.
CREATE TABLE shop.counters (
    name       text PRIMARY KEY,
    value      bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO shop.counters (name) VALUES ('orders placed'), ('orders deleted');
