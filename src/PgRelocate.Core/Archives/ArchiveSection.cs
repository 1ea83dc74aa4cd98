namespace PgRelocate.Archives;

/// <summary>
/// The section pg_dump put an entry in (its <c>teSection</c>): pg_restore's <c>--section</c> and the order of a
/// restore follow it. <see cref="None"/> is for comments, ACLs and the like, which go with their object.
/// </summary>
internal enum ArchiveSection
{
    None,
    PreData,
    Data,
    PostData,
}
