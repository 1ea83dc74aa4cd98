-- What the source provider's superuser did (harmless to do again where it is done already): PostGIS in public,
-- pg_trgm in heroku_ext, a user SRID.
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE SCHEMA IF NOT EXISTS heroku_ext;
GRANT USAGE ON SCHEMA heroku_ext TO PUBLIC;
CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA heroku_ext;
INSERT INTO spatial_ref_sys (srid, auth_name, auth_srid, srtext, proj4text)
VALUES (910001, 'relocate', 910001, 'LOCAL_CS["relocate site grid",LOCAL_DATUM["site",0],UNIT["metre",1]]', '')
ON CONFLICT DO NOTHING;
