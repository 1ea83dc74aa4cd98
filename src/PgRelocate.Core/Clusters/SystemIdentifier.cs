using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Security.Cryptography;

namespace PgRelocate.Clusters;

/// <summary>
/// Gives a stopped cluster's files a new system identifier, the number initdb draws for each cluster and every copy
/// of its files keeps. A cluster copied from another's files (see <see cref="LocalCluster"/>: initdb runs once per
/// server version, its output is copied for each cluster) would otherwise share it, and with the same database
/// names and oids two clusters would be one database to <c>Catalog/DatabaseIdentity</c>. The identifier is written
/// where the server reads it: <c>global/pg_control</c> (its CRC-32C recomputed) and the long header of each WAL
/// segment's first page, which the server checks against <c>pg_control</c> when it reads that segment.
/// </summary>
internal static class SystemIdentifier
{
    /// <summary>XLP_LONG_HEADER: the page header carries the system identifier.</summary>
    private const ushort LongHeader = 0x0002;

    /// <summary>Where a long WAL page header holds the system identifier: after the 24-byte short header.</summary>
    private const int WalIdentifierOffset = 24;

    /// <summary>A new identifier: random, and positive as initdb's are (the server shows it as a bigint).</summary>
    public static ulong NewValue() => BinaryPrimitives.ReadUInt64LittleEndian(RandomNumberGenerator.GetBytes(sizeof(ulong))) & long.MaxValue;

    /// <summary>Reads the system identifier of a cluster's files.</summary>
    public static ulong Read(string dataDir) =>
        BinaryPrimitives.ReadUInt64LittleEndian(File.ReadAllBytes(ControlFile(dataDir)));

    /// <summary>Writes <paramref name="identifier"/> into a stopped cluster's pg_control and WAL segments.</summary>
    /// <exception cref="InvalidDataException">pg_control's CRC or a segment's header is not where this expects.</exception>
    public static void Write(string dataDir, ulong identifier)
    {
        var path = ControlFile(dataDir);
        var control = File.ReadAllBytes(path);
        var old = BinaryPrimitives.ReadUInt64LittleEndian(control);
        // The CRC is ControlFileData's last field, over the bytes before it; where that is depends on the version.
        var crcAt = CrcOffset(control) ?? throw new InvalidDataException($"{path}: no CRC found where pg_control keeps it.");
        BinaryPrimitives.WriteUInt64LittleEndian(control, identifier);
        BinaryPrimitives.WriteUInt32LittleEndian(control.AsSpan(crcAt), Crc32C(control.AsSpan(0, crcAt)));

        var header = new byte[WalIdentifierOffset + sizeof(ulong)];
        foreach (var segment in Directory.EnumerateFiles(Path.Combine(dataDir, "pg_wal")).Where(IsSegment))
        {
            using var file = new FileStream(segment, FileMode.Open, FileAccess.ReadWrite);
            file.ReadExactly(header);
            // xlp_info, after the magic number, says the header is long; the identifier in it must be pg_control's.
            var info = BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(2));
            if ((info & LongHeader) == 0 || BinaryPrimitives.ReadUInt64LittleEndian(header.AsSpan(WalIdentifierOffset)) != old)
            {
                throw new InvalidDataException($"{segment}: its first page does not carry the system identifier of pg_control.");
            }

            BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(WalIdentifierOffset), identifier);
            file.Position = 0;
            file.Write(header);
        }

        // pg_control last, in place (its owner and mode stay as they are).
        using var controlFile = new FileStream(path, FileMode.Open, FileAccess.Write);
        controlFile.Write(control);
    }

    /// <summary>The offset of pg_control's CRC: the first 4-byte-aligned place holding the CRC-32C of the bytes before it.</summary>
    internal static int? CrcOffset(ReadOnlySpan<byte> control)
    {
        for (var at = sizeof(ulong); at + sizeof(uint) <= Math.Min(control.Length, 1024); at += sizeof(uint))
        {
            if (Crc32C(control[..at]) == BinaryPrimitives.ReadUInt32LittleEndian(control[at..]))
            {
                return at;
            }
        }

        return null;
    }

    /// <summary>CRC-32C as PostgreSQL computes it (INIT_CRC32C, COMP_CRC32C, FIN_CRC32C).</summary>
    internal static uint Crc32C(ReadOnlySpan<byte> data)
    {
        var crc = uint.MaxValue;
        foreach (var b in data)
        {
            crc = BitOperations.Crc32C(crc, b);
        }

        return ~crc;
    }

    private static string ControlFile(string dataDir) => Path.Combine(dataDir, "global", "pg_control");

    /// <summary>A WAL segment's name: 24 hexadecimal digits (timeline, log, segment).</summary>
    private static bool IsSegment(string path) =>
        Path.GetFileName(path) is { Length: 24 } name && ulong.TryParse(name.AsSpan(0, 8), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out _)
        && ulong.TryParse(name.AsSpan(8), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out _);
}
