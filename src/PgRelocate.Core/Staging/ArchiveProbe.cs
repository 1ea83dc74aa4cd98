using System.Text;

namespace PgRelocate.Staging;

/// <summary>
/// Checks that a stream starts like a pg_dump custom-format archive (the magic "PGDMP") before anything is
/// restored from it, and explains what came back otherwise. It reads only the first few bytes, then hands
/// back a stream that replays them, so the check costs no second request.
/// </summary>
internal static class ArchiveProbe
{
    public static readonly byte[] Magic = "PGDMP"u8.ToArray();

    private const int ProbeSize = 4096;

    /// <summary>Returns a stream equal to <paramref name="source"/> (from its current position) once its head is checked.</summary>
    /// <exception cref="StagingException">It is not an archive; exit code 2 (bad input), with what it looks like.</exception>
    public static async Task<Stream> CheckAsync(Stream source, string display, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        var head = new byte[ProbeSize];
        var n = 0;
        while (n < Magic.Length)
        {
            var r = await source.ReadAsync(head.AsMemory(n), cancellationToken);
            if (r == 0)
            {
                break;
            }

            n += r;
        }

        if (n >= Magic.Length && head.AsSpan(0, Magic.Length).SequenceEqual(Magic))
        {
            return new Tools.PrefixedStream(head.AsMemory(0, n), source);
        }

        // Read a little more so an XML or HTML error can be recognised whole.
        while (n < head.Length)
        {
            var r = await source.ReadAsync(head.AsMemory(n), cancellationToken);
            if (r == 0)
            {
                break;
            }

            n += r;
        }

        await source.DisposeAsync();
        throw Explain(display, head.AsSpan(0, n));
    }

    public static StagingException Explain(string display, ReadOnlySpan<byte> head)
    {
        if (head.Length == 0)
        {
            return new StagingException($"{display} is empty, not a pg_dump archive: the dump that wrote it failed or was cut short.", exitCode: Errors.ExitCode.Usage);
        }

        var text = Encoding.UTF8.GetString(head);
        if (text.TrimStart().StartsWith('<'))
        {
            var e = ResponseExplainer.Explain(display, 0, head);
            return new StagingException(e.Message, exitCode: Errors.ExitCode.Usage);
        }

        if (text.StartsWith("--", StringComparison.Ordinal) || text.Contains("PostgreSQL database dump", StringComparison.Ordinal))
        {
            return new StagingException($"{display} is a plain SQL dump, not a custom-format archive: dump again with 'pgrelocate dump' (or pg_dump -Fc).", exitCode: Errors.ExitCode.Usage);
        }

        if (head.Length >= 2 && head[0] == 0x1f && head[1] == 0x8b)
        {
            return new StagingException($"{display} is gzip-compressed, not a pg_dump custom archive: decompress it first, or dump with 'pgrelocate dump'.", exitCode: Errors.ExitCode.Usage);
        }

        return new StagingException($"{display} is not a pg_dump custom archive (no 'PGDMP' magic at its start): check the location.", exitCode: Errors.ExitCode.Usage);
    }
}
