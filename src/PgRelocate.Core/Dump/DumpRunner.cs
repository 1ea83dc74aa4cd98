using System.Security.Cryptography;
using System.Text.RegularExpressions;
using PgRelocate.Archives;
using PgRelocate.Catalog;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Progress;
using PgRelocate.Runners;
using PgRelocate.Tools;

namespace PgRelocate.Dump;

/// <summary>
/// Runs <c>pg_dump -Fc</c> (large objects included) against the source and streams the archive into a
/// destination stream, hashing it on the way. Where the bytes go (a local file, an object store) is the
/// caller's business: it publishes the archive only after this returns.
/// </summary>
/// <param name="compression">gzip level 0-9 for pg_dump's --compress; null keeps pg_dump's default (6).</param>
/// <param name="knownFacts">The source's facts when the caller has read them already; else they are read first.</param>
public sealed partial class DumpRunner(PgBinaries binaries, IReporter reporter, int? compression = null, DatabaseFacts? knownFacts = null)
{
    public const string ProgressTask = "dump";

    /// <summary>Dumps <paramref name="source"/> into <paramref name="destination"/> and returns the archive's manifest.</summary>
    /// <exception cref="PgRelocateException">The source is unreachable, no fitting pg_dump is installed, or pg_dump failed.</exception>
    public async Task<DumpManifest> RunAsync(PgConnectionInfo source, Stream destination, CancellationToken cancellationToken)
    {
        var started = DateTimeOffset.UtcNow;
        var facts = knownFacts ?? await ReadFactsAsync(source, cancellationToken);

        var pgDump = binaries.PgDumpFor(facts.ServerMajor);
        reporter.Info($"Dumping {source.Display} (PostgreSQL {facts.ServerVersion}, {Units.Bytes(facts.SizeBytes)}, {facts.Tables.Count} tables) with pg_dump {pgDump.Version}.");

        // -b keeps large objects even when the dump is narrowed later (it is the default for a whole database).
        List<string> args = ["-b"];
        if (compression is { } level)
        {
            args.Add("--compress=" + level.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        var progress = new DumpProgress(reporter, facts.Tables.Count);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long bytes = 0;
        await new PgDump(pgDump, source, reporter).RunAsync(args, async (stdout, ct) =>
        {
            var buffer = new byte[1 << 20];
            int n;
            while ((n = await stdout.ReadAsync(buffer, ct)) > 0)
            {
                sha.AppendData(buffer, 0, n);
                await destination.WriteAsync(buffer.AsMemory(0, n), ct);
                bytes += n;
                progress.OnBytes(bytes);
            }
        }, progress.OnLine, source.Display, cancellationToken);

        await destination.FlushAsync(cancellationToken);
        progress.Finish(bytes);
        return new DumpManifest
        {
            Source = $"{source.Host}:{source.Port}/{source.Database}",
            SourceServerVersion = facts.ServerVersion,
            DatabaseSizeBytes = facts.SizeBytes,
            PgDumpVersion = pgDump.Version,
            ArchiveBytes = bytes,
            Sha256 = Convert.ToHexStringLower(sha.GetHashAndReset()),
            StartedAt = started,
            FinishedAt = DateTimeOffset.UtcNow,
            Extensions = facts.Extensions,
            Tables = facts.Tables,
            LargeObjects = facts.LargeObjects,
        };
    }

    /// <summary>What the manifest and the progress need to know about the source.</summary>
    public static async Task<DatabaseFacts> ReadFactsAsync(PgConnectionInfo source, CancellationToken cancellationToken)
    {
        await using var conn = await Db.OpenAsync(source, "source", cancellationToken);
        return await DatabaseFacts.ReadAsync(conn, cancellationToken);
    }

    /// <summary>Turns pg_dump's verbose lines into "tables done of total" and bytes written.</summary>
    private sealed partial class DumpProgress(IReporter reporter, int tables)
    {
        private readonly Lock _lock = new();
        private int _tablesDone;
        private string? _current;
        private long _bytes;
        private long _lastReportedBytes;

        public void OnLine(string line)
        {
            var m = TableLine().Match(line);
            lock (_lock)
            {
                if (m.Success)
                {
                    _tablesDone++;
                    _current = m.Groups[1].Value;
                }
                else if (line.Contains("large object", StringComparison.Ordinal))
                {
                    _current = "large objects";
                }
                else
                {
                    return;
                }

                Report();
            }
        }

        public void OnBytes(long bytes)
        {
            lock (_lock)
            {
                _bytes = bytes;
                // A report per megabyte is plenty; the reporter throttles what it draws.
                if (_bytes - _lastReportedBytes >= 1 << 20)
                {
                    _lastReportedBytes = _bytes;
                    Report();
                }
            }
        }

        public void Finish(long bytes)
        {
            lock (_lock)
            {
                _bytes = bytes;
                reporter.Progress(new ProgressUpdate(ProgressTask, Math.Max(_tablesDone, tables), Math.Max(_tablesDone, tables), "tables", null, _bytes, Finished: true));
            }
        }

        private void Report() =>
            reporter.Progress(new ProgressUpdate(ProgressTask, _tablesDone, Math.Max(tables, _tablesDone), "tables", _current, _bytes));

        [GeneratedRegex("dumping contents of table \"(.+)\"")]
        private static partial Regex TableLine();
    }
}
