-- A geographic application: geometry columns of several types and SRIDs, GiST indexes, a trigram index.
CREATE TABLE places (
    id serial PRIMARY KEY,
    name text NOT NULL,
    geom geometry(Point, 4326) NOT NULL,
    footprint geometry(Polygon, 3857)
);
CREATE INDEX places_geom ON places USING gist (geom);
CREATE INDEX places_footprint ON places USING gist (footprint);
CREATE INDEX places_name_trgm ON places USING gin (name heroku_ext.gin_trgm_ops);

CREATE TABLE routes (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    place_id int NOT NULL REFERENCES places,
    path geometry(LineString, 4326),
    site_point geometry(Point, 910001)
);
CREATE INDEX routes_path ON routes USING gist (path);

-- A second table referencing places: a table several tables reference (its foreign keys validated side by side).
CREATE TABLE place_visits (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    place_id int NOT NULL REFERENCES places ON DELETE CASCADE,
    visited_on date NOT NULL
);

INSERT INTO places (name, geom, footprint)
SELECT 'place ' || g,
       ST_SetSRID(ST_MakePoint(-10 + g * 0.01, 40 + g * 0.005), 4326),
       ST_Transform(ST_Buffer(ST_SetSRID(ST_MakePoint(-10 + g * 0.01, 40 + g * 0.005), 4326)::geography, 50)::geometry, 3857)::geometry(Polygon, 3857)
FROM generate_series(1, 400) g;

INSERT INTO routes (place_id, path, site_point)
SELECT 1 + g % 400,
       ST_SetSRID(ST_MakeLine(ST_MakePoint(g * 0.01, 1), ST_MakePoint(g * 0.01 + 0.1, 1.2)), 4326),
       ST_SetSRID(ST_MakePoint(g, g * 2), 910001)
FROM generate_series(1, 600) g;

INSERT INTO place_visits (place_id, visited_on)
SELECT 1 + g % 400, date '2026-01-01' + g % 300
FROM generate_series(1, 800) g;

CREATE VIEW places_near_origin AS
SELECT id, name FROM places WHERE ST_DWithin(geom::geography, ST_SetSRID(ST_MakePoint(-10, 40), 4326)::geography, 100000);
