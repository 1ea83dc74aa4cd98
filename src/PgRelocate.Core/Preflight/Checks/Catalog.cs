namespace PgRelocate.Preflight.Checks;

/// <summary>SQL fragments the checks share, so "a user object" means the same thing in every check.</summary>
internal static class Catalog
{
    /// <summary>Schemas that hold user objects: not the system catalogs, TOAST or temporary schemas. Alias n = pg_namespace.</summary>
    public const string UserSchema = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'";

    /// <summary>The pg_class row c was not created by an extension (those come back with CREATE EXTENSION).</summary>
    public const string NotExtensionRelation =
        "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')";

    /// <summary>The pg_proc row p was not created by an extension.</summary>
    public const string NotExtensionFunction =
        "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')";

    /// <summary>The pg_namespace row n was not created by an extension.</summary>
    public const string NotExtensionSchema =
        "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e')";

    /// <summary>A qualified, readable table name for reports (not for SQL).</summary>
    public const string QualifiedName = "n.nspname || '.' || c.relname";
}
