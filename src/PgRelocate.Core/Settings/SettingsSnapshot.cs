using System.Text;
using Npgsql;
using PgRelocate.Connections;

namespace PgRelocate.Settings;

/// <summary>
/// One side's pg_settings, read from a live server or from a CSV capture. <see cref="Database"/> is known
/// only for a live server (a CSV does not record which database it came from).
/// </summary>
public sealed class SettingsSnapshot
{
    public const string CopySql = "COPY (SELECT * FROM pg_settings) TO STDOUT WITH (FORMAT csv, HEADER true)";

    public SettingsSnapshot(IReadOnlyList<PgSetting> settings, string label, string? database)
    {
        Settings = settings.GroupBy(s => s.Name, StringComparer.OrdinalIgnoreCase).ToDictionary(g => g.Key, g => g.First(), StringComparer.OrdinalIgnoreCase);
        Label = label;
        Database = database;
    }

    public IReadOnlyDictionary<string, PgSetting> Settings { get; }

    /// <summary>Where the settings came from, safe to print (a redacted URL or a file name).</summary>
    public string Label { get; }

    public string? Database { get; }

    /// <summary>A connection URL or keyword string is read from the server; anything else is a CSV file.</summary>
    public static bool LooksLikeConnection(string spec) =>
        spec.Contains("://", StringComparison.Ordinal) || spec.Contains('=', StringComparison.Ordinal);

    /// <summary>Loads <paramref name="spec"/>: a connection (read live) or the path of a CSV capture.</summary>
    public static async Task<SettingsSnapshot> LoadAsync(string spec, string role, CancellationToken cancellationToken)
    {
        if (!LooksLikeConnection(spec))
        {
            return new SettingsSnapshot(SettingsCsv.ReadFile(spec), Path.GetFileName(spec), null);
        }

        var info = PgConnectionInfo.Parse(spec);
        await using var conn = await Db.OpenAsync(info, role, cancellationToken);
        return await ReadAsync(conn, info, cancellationToken);
    }

    /// <summary>Reads the live settings through the same CSV the capture writes, so both paths agree.</summary>
    public static async Task<SettingsSnapshot> ReadAsync(NpgsqlConnection conn, PgConnectionInfo info, CancellationToken cancellationToken)
    {
        var csv = await CaptureAsync(conn, cancellationToken);
        using var reader = new StringReader(csv);
        return new SettingsSnapshot(SettingsCsv.Read(reader, info.Display), info.Display, info.Database);
    }

    /// <summary>The CSV of <paramref name="database"/>'s pg_settings as psql's \copy writes it, on a session of its own.</summary>
    public static async Task<string> CaptureAsync(PgConnectionInfo database, CancellationToken cancellationToken)
    {
        await using var conn = await Db.OpenAsync(database, "database", cancellationToken);
        return await CaptureAsync(conn, cancellationToken);
    }

    /// <summary>The CSV of pg_settings as psql's \copy writes it.</summary>
    public static async Task<string> CaptureAsync(NpgsqlConnection conn, CancellationToken cancellationToken)
    {
        using var reader = await conn.BeginTextExportAsync(CopySql, cancellationToken);
        return await reader.ReadToEndAsync(cancellationToken);
    }

    public static async Task WriteCsvAsync(string csv, string path, CancellationToken cancellationToken)
    {
        Tools.OutputPaths.EnsureWritable(path, "-o");
        await File.WriteAllTextAsync(path, csv, new UTF8Encoding(false), cancellationToken);
    }
}
