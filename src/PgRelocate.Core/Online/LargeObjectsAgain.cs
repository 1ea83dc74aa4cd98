using System.Globalization;
using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Copy;
using PgRelocate.Verify;

namespace PgRelocate.Online;

/// <summary>
/// Large objects, which neither logical decoding nor the way back's triggers see: at the cutover the source's,
/// at a rollback the target's, copied again where the two sides' digests differ (created, changed or removed
/// since), with the copy's own <see cref="LargeObjectCopier"/>. Safe to repeat: a run again compares again.
/// </summary>
internal static class LargeObjectsAgain
{
    /// <summary>Makes <paramref name="into"/>'s large objects those of <paramref name="from"/>; returns how many were copied or removed.</summary>
    public static async Task<int> CopyChangedAsync(NpgsqlConnection from, NpgsqlConnection into, CancellationToken cancellationToken)
    {
        var theirs = await InTransactionAsync(from, () => LargeObjects.ReadAsync(from, cancellationToken), cancellationToken);
        var ours = await InTransactionAsync(into, () => LargeObjects.ReadAsync(into, cancellationToken), cancellationToken);
        var stale = ours.Keys.Where(oid => !theirs.TryGetValue(oid, out var s) || s != ours[oid]).ToList();
        foreach (var oid in stale)
        {
            await Db.ExecuteAsync(into, $"SELECT pg_catalog.lo_unlink({oid.ToString(CultureInfo.InvariantCulture)})", cancellationToken);
        }

        var copy = theirs.Keys.Where(oid => !ours.TryGetValue(oid, out var t) || t != theirs[oid]).Select(oid => (uint)oid).ToList();
        if (copy.Count > 0)
        {
            await LargeObjectCopier.CopyAsync(from, into, copy, cancellationToken);
        }

        return copy.Count + stale.Count(oid => !theirs.ContainsKey(oid));
    }

    private static async Task<T> InTransactionAsync<T>(NpgsqlConnection conn, Func<Task<T>> read, CancellationToken cancellationToken)
    {
        await Db.ExecuteAsync(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", cancellationToken);
        var result = await read();
        await Db.ExecuteAsync(conn, "COMMIT", cancellationToken);
        return result;
    }
}
