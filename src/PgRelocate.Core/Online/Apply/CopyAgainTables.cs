namespace PgRelocate.Online.Apply;

/// <summary>
/// The tables the carry copies again at a marker at its next look (a column change the target's rows cannot take
/// in place, a table the snapshot copy gave up), kept in the <c>again</c> file of the carried tables' folder until
/// their copy is taken: a kill in between does not lose them.
/// </summary>
internal sealed class CopyAgainTables(string folder)
{
    private readonly object _lock = new();
    private readonly HashSet<string> _again = new(StringComparer.Ordinal);

    private string AgainFile => Path.Combine(folder, "again");

    /// <summary>Reads the tables a run before this one left to copy again.</summary>
    public void Load()
    {
        if (File.Exists(AgainFile))
        {
            _again.UnionWith(File.ReadAllLines(AgainFile).Where(l => l.Length > 0));
        }
    }

    /// <summary>Copies these tables (quoted names) again at a marker at the next look; saved when one is new.</summary>
    public void Add(IEnumerable<string> tables)
    {
        lock (_lock)
        {
            if (tables.Count(_again.Add) > 0)
            {
                Save();
            }
        }
    }

    /// <summary>True when the table waits to be copied again.</summary>
    public bool Contains(string qualified)
    {
        lock (_lock)
        {
            return _again.Contains(qualified);
        }
    }

    /// <summary>These tables' copies are taken (at a marker written and committed): no longer to copy again.</summary>
    public void Taken(IEnumerable<string> tables)
    {
        lock (_lock)
        {
            _again.ExceptWith(tables);
            Save();
        }
    }

    private void Save()
    {
        Directory.CreateDirectory(folder);
        CarriedFile.WriteLines(AgainFile, _again.Order(StringComparer.Ordinal));
    }
}
