using PgRelocate.Catalog;

namespace PgRelocate.Online;

/// <summary>The SQL files of this folder, read through the one loader (<see cref="CatalogSql.Load"/>).</summary>
internal static class OnlineSql
{
    public static readonly string PublishedTables = Load("PublishedTables.sql");
    public static readonly string UnownedTables = Load("UnownedTables.sql");
    public static readonly string NoIdentityTables = Load("NoIdentityTables.sql");
    public static readonly string UnpublishedTables = Load("UnpublishedTables.sql");
    public static readonly string TableConstraints = Load("TableConstraints.sql");
    public static readonly string TargetColumns = Load("TargetColumns.sql");
    public static readonly string SlotLag = Load("SlotLag.sql");
    public static readonly string ApplyRoutes = Load("ApplyRoutes.sql");
    public static readonly string ApplyRoutesWrites = Load("ApplyRoutesWrites.sql");
    public static readonly string ConfigurationTables = Load("ConfigurationTables.sql");
    public static readonly string RewrittenTables = Load("RewrittenTables.sql");
    public static readonly string UnsentWal = Load("UnsentWal.sql");
    public static readonly string ApplyWaits = Load("ApplyWaits.sql");
    public static readonly string UnloggedTables = Load("UnloggedTables.sql");
    public static readonly string UnwritableTables = Load("UnwritableTables.sql");
    public static readonly string CarriedTable = Load("CarriedTable.sql");
    public static readonly string CarriedRelation = Load("CarriedRelation.sql");
    public static readonly string CarriedTies = Load("CarriedTies.sql");
    public static readonly string CarriedColumns = Load("CarriedColumns.sql");
    public static readonly string CarriedSequence = Load("CarriedSequence.sql");
    public static readonly string CarriedAttributes = Load("CarriedAttributes.sql");
    public static readonly string CarryCandidates = Load("CarryCandidates.sql");
    public static readonly string TargetTables = Load("TargetTables.sql");
    public static readonly string ReplicationRole = Load("ReplicationRole.sql");
    public static readonly string ReplicationCapacity = Load("ReplicationCapacity.sql");
    public static readonly string SchemaFingerprint = Load("SchemaFingerprint.sql");
    public static readonly string SwitchCountedSizes = Load("SwitchCountedSizes.sql");

    private static string Load(string fileName) => CatalogSql.Load("Online/" + fileName);
}
