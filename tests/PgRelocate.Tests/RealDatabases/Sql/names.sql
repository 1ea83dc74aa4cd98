-- Names in every identifier position that need quoting: spaces, dots, double quotes, uppercase,
-- non-ASCII, keywords, and names of the 63-byte maximum (ASCII and multi-byte).
CREATE SCHEMA "Odd ""Schema"".v1";
CREATE SCHEMA "Ünïcødé Schéma";
CREATE SCHEMA "Long Name Of Exactly Sixty Three Bytes, With Spaces And Dots.Xy";

CREATE TYPE "Odd ""Schema"".v1"."Mood Type" AS ENUM ('ok', 'not ok', 'ÿes "quoted"');
CREATE TYPE "Ünïcødé Schéma"."Pöint.Type" AS ("X Coord" float8, "select" float8);
CREATE SEQUENCE "Odd ""Schema"".v1"."Seq.Number ""1""" START 42;

CREATE FUNCTION "Odd ""Schema"".v1"."Normalize Name()"("Raw Value" text) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$ SELECT lower(trim("Raw Value")) $$;

CREATE TABLE "Odd ""Schema"".v1"."Order Table" (
    "Select" int PRIMARY KEY DEFAULT nextval('"Odd ""Schema"".v1"."Seq.Number ""1"""'),
    "Column With Spaces" text NOT NULL,
    "quote""d" text,
    "ÄÖÜ ñ" "Odd ""Schema"".v1"."Mood Type" NOT NULL DEFAULT 'ok',
    "user" text,
    "UPPER" "Ünïcødé Schéma"."Pöint.Type",
    "Long Name Of Exactly Sixty Three Bytes, With Spaces And Dots.Xy" int,
    "éééééééééééééééééééééééééééééééx" int,
    CONSTRAINT "Check: ""positive"" ünïcødé" CHECK ("Select" > 0)
);
CREATE UNIQUE INDEX "Index.With.Dots ""and quotes""" ON "Odd ""Schema"".v1"."Order Table" ("Column With Spaces");
CREATE INDEX "éééééééééééééééééééééééééééééééx" ON "Odd ""Schema"".v1"."Order Table" (lower("user"));

CREATE FUNCTION "Odd ""Schema"".v1"."Trigger Func.V2"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW."user" := "Odd ""Schema"".v1"."Normalize Name()"(NEW."user");
    RETURN NEW;
END $$;
CREATE TRIGGER "Trigger ""Name"" ü" BEFORE INSERT OR UPDATE ON "Odd ""Schema"".v1"."Order Table"
    FOR EACH ROW EXECUTE FUNCTION "Odd ""Schema"".v1"."Trigger Func.V2"();

CREATE TABLE "Ünïcødé Schéma"."Tabelle ß" (
    id int PRIMARY KEY,
    "Order" int CONSTRAINT "FK -> Order ""Table""" REFERENCES "Odd ""Schema"".v1"."Order Table" ("Select"),
    "desc" text
);
CREATE TABLE public."TABLE" ("from" int, "group" text, "WHERE" boolean);
CREATE TABLE "Long Name Of Exactly Sixty Three Bytes, With Spaces And Dots.Xy"."Long Name Of Exactly Sixty Three Bytes, With Spaces And Dots.Xy" (
    "Long Name Of Exactly Sixty Three Bytes, With Spaces And Dots.Xy" serial PRIMARY KEY,
    "éééééééééééééééééééééééééééééééx" text
);
CREATE VIEW "Ünïcødé Schéma"."View ""Of"" Orders" AS
SELECT o."Select", o."Column With Spaces", t."desc" FROM "Odd ""Schema"".v1"."Order Table" o LEFT JOIN "Ünïcødé Schéma"."Tabelle ß" t ON t."Order" = o."Select";

INSERT INTO "Odd ""Schema"".v1"."Order Table" ("Column With Spaces", "quote""d", "ÄÖÜ ñ", "user", "UPPER", "Long Name Of Exactly Sixty Three Bytes, With Spaces And Dots.Xy", "éééééééééééééééééééééééééééééééx")
SELECT 'row ' || g, 'say "' || g || '"', (ARRAY['ok', 'not ok', 'ÿes "quoted"'])[1 + g % 3]::"Odd ""Schema"".v1"."Mood Type",
       '  User ' || g || ' ', ROW(g::float8, g * 0.5::float8)::"Ünïcødé Schéma"."Pöint.Type", g, -g
FROM generate_series(1, 300) g;
INSERT INTO "Ünïcødé Schéma"."Tabelle ß" SELECT g, 42 + g % 300, 'ß ' || g FROM generate_series(1, 200) g;
INSERT INTO public."TABLE" SELECT g, 'group ' || g, g % 2 = 0 FROM generate_series(1, 50) g;
INSERT INTO "Long Name Of Exactly Sixty Three Bytes, With Spaces And Dots.Xy"."Long Name Of Exactly Sixty Three Bytes, With Spaces And Dots.Xy" ("éééééééééééééééééééééééééééééééx") SELECT 'é ' || g FROM generate_series(1, 20) g;
