-- Creates the login role, or sets the password of the one there, on a cluster of the tool's own. A DO block takes no
-- bind parameters, so code fills in: @role (the role, quoted as an identifier), @role_name (its name, as a literal)
-- and @password (as a literal).
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = @role_name) THEN
    CREATE ROLE @role LOGIN PASSWORD @password;
  ELSE
    ALTER ROLE @role LOGIN PASSWORD @password;
  END IF;
END $$;
