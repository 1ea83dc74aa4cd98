using PgRelocate.Errors;

namespace PgRelocate.Verify;

/// <summary>
/// Everything a verification found. Serialized as the stable JSON object of <c>verify --json</c>:
/// add members, never rename or remove them.
/// </summary>
public sealed record VerificationResult
{
    public required string Source { get; init; }

    public required string Target { get; init; }

    public required VerifyMode Mode { get; init; }

    /// <summary>How many objects of each kind each side has (schemas, tables, views, ...).</summary>
    public required IReadOnlyList<ObjectCount> ObjectCounts { get; init; }

    /// <summary>Whether owners, privileges, policies' roles and roles were compared too (verify --roles); their differences are among <see cref="SchemaDifferences"/>.</summary>
    public bool RolesCompared { get; init; }

    /// <summary>Objects present on one side only or defined differently.</summary>
    public required IReadOnlyList<SchemaDifference> SchemaDifferences { get; init; }

    /// <summary>
    /// Differences --roles makes on purpose, each with why (verify --roles): a superuser's objects and their privileges
    /// kept by a target login role that is no superuser, a role created without the source's SUPERUSER, REPLICATION
    /// or BYPASSRLS. Listed, not failures.
    /// </summary>
    public IReadOnlyList<ChosenDifference> ChosenDifferences { get; init; } = [];

    /// <summary>
    /// What only the target has and its provider installed (an extension, an extension's schema): left alone,
    /// not a difference.
    /// </summary>
    public IReadOnlyList<SchemaNote> ProviderObjects { get; init; } = [];

    /// <summary>One entry per table present on both sides (and matching the table patterns).</summary>
    public required IReadOnlyList<TableResult> Tables { get; init; }

    public required IReadOnlyList<QueryResult> Queries { get; init; }

    public bool HasDifferences =>
        SchemaDifferences.Count > 0 || Tables.Any(t => !t.Equal) || Queries.Any(q => !q.Equal);

    public double ElapsedSeconds { get; init; }

    /// <summary>
    /// The differences in one line for a failure message, naming the first few differing tables and schema objects:
    /// "1 of 5 tables differ (public.medium), 0 schema differences".
    /// </summary>
    public string Brief()
    {
        var tables = Tables.Where(t => !t.Equal).Select(t => t.Name).ToList();
        var schema = SchemaDifferences.Select(d => $"{d.Kind} {d.Name}").ToList();
        var queries = Queries.Count(q => !q.Equal);
        return $"{tables.Count} of {Tables.Count} tables differ{Named(tables)}, {SchemaDifferences.Count} schema {Sentences.Plural(SchemaDifferences.Count, "difference")}{Named(schema)}"
            + (queries > 0 ? $", {queries} of {Queries.Count} queries differ" : "");
    }

    private static string Named(List<string> names) => names.Count == 0 ? "" : $" ({Errors.Sentences.FirstFew(names, 3)})";
}

public sealed record ObjectCount(string Kind, long Source, long Target)
{
    public bool Equal => Source == Target;
}

/// <summary>How an object differs.</summary>
public enum DifferenceKind
{
    MissingOnTarget,
    ExtraOnTarget,
    Different,
}

/// <summary>
/// One object that differs: <see cref="Kind"/> is the object kind (table, column, index, sequence value, ...),
/// <see cref="Name"/> its qualified name; the definitions are shown when both sides have the object.
/// </summary>
public sealed record SchemaDifference(string Kind, string Name, DifferenceKind Difference, string? SourceDefinition = null, string? TargetDefinition = null);

/// <summary>A difference the tool made on purpose, with <see cref="Reason"/>: listed by verify, not a failure.</summary>
public sealed record ChosenDifference(string Kind, string Name, string? SourceDefinition, string? TargetDefinition, string Reason);

/// <summary>An object not compared, with the note saying why (for example "extension postgis 3.3 (target only, installed by the provider)").</summary>
public sealed record SchemaNote(string Kind, string Name, string Note);

/// <summary>The comparison of one table's contents.</summary>
public sealed record TableResult
{
    public required string Name { get; init; }

    public required long SourceRows { get; init; }

    public required long TargetRows { get; init; }

    /// <summary>The digests of the full contents; null in counts mode.</summary>
    public string? SourceDigest { get; init; }

    public string? TargetDigest { get; init; }

    public bool Equal { get; init; }

    /// <summary>The key columns used to locate differences; null when the table has no usable key.</summary>
    public IReadOnlyList<string>? Key { get; init; }

    /// <summary>The differing rows found, at most the row limit.</summary>
    public IReadOnlyList<RowDifference> Rows { get; init; } = [];

    /// <summary>True when more differing rows exist than were listed.</summary>
    public bool RowsTruncated { get; init; }

    /// <summary>Why differing rows could not be listed (no key, an error), or null.</summary>
    public string? Note { get; init; }
}

/// <summary>One row that differs, named by its key.</summary>
public sealed record RowDifference(IReadOnlyDictionary<string, string?> Key, DifferenceKind Difference, IReadOnlyList<ColumnDifference>? Columns = null);

public sealed record ColumnDifference(string Column, string? Source, string? Target);

/// <summary>The comparison of one query's results.</summary>
public sealed record QueryResult
{
    public required string Query { get; init; }

    /// <summary>True when the query has a top-level ORDER BY and rows were compared in order.</summary>
    public required bool Ordered { get; init; }

    public required long SourceRows { get; init; }

    public required long TargetRows { get; init; }

    public required bool Equal { get; init; }

    /// <summary>The first differing rows, each rendered as a row literal.</summary>
    public IReadOnlyList<QueryRowDifference> Rows { get; init; } = [];

    /// <summary>The error a side returned, when the query failed there.</summary>
    public string? Error { get; init; }
}

/// <summary>A row only one side returned (multiset), or the rows at one position (ordered).</summary>
public sealed record QueryRowDifference(long? Position, string? Source, string? Target);
