using PgRelocate.Catalog;

namespace PgRelocate.Online.Fallback;

/// <summary>The SQL files of the way back, read through the one loader (<see cref="CatalogSql.Load"/>).</summary>
internal static class FallbackSql
{
    public static readonly string CaptureCreate = Load("CaptureCreate.sql");
    public static readonly string CaptureTables = Load("CaptureTables.sql");
    public static readonly string QueueRead = Load("QueueRead.sql");
    public static readonly string QueueTables = Load("QueueTables.sql");
    public static readonly string QueueHorizon = Load("QueueHorizon.sql");
    public static readonly string QueueSnapshot = Load("QueueSnapshot.sql");
    public static readonly string ChangedTables = Load("ChangedTables.sql");
    public static readonly string SlotPossible = Load("SlotPossible.sql");

    private static string Load(string fileName) => CatalogSql.Load("Online/Fallback/" + fileName);
}
