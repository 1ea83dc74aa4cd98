-- What the source provider's superuser did: PostGIS in public, pg_trgm in heroku_ext, a user SRID.
CREATE EXTENSION postgis;
CREATE SCHEMA heroku_ext;
GRANT USAGE ON SCHEMA heroku_ext TO PUBLIC;
CREATE EXTENSION pg_trgm SCHEMA heroku_ext;
INSERT INTO spatial_ref_sys (srid, auth_name, auth_srid, srtext, proj4text)
VALUES (910001, 'relocate', 910001, 'LOCAL_CS["relocate site grid",LOCAL_DATUM["site",0],UNIT["metre",1]]', '');
