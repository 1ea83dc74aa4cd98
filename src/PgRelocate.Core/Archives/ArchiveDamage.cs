using PgRelocate.Errors;

namespace PgRelocate.Archives;

/// <summary>The one message for an archive that ends early or whose bytes do not fit pg_dump's format.</summary>
internal static class ArchiveDamage
{
    public static UsageException Error(string display, string what) =>
        new($"{display} is truncated or damaged ({what}): dump or download it again. Nothing was changed.");
}
