using System.Security.Cryptography;
using System.Text;
using PgRelocate.Connections;
using PgRelocate.Tests.Harness;
using PgRelocate.Verify;

namespace PgRelocate.Tests.Verify;

/// <summary>Large objects are compared by a digest of their contents, a large one piece by piece.</summary>
public class LargeObjectDigestTests(PgServer server) : IClassFixture<PgServer>
{
    [Fact]
    public async Task Should_Digest_An_Object_Larger_Than_A_Piece_From_Its_Pieces_And_See_One_Byte_Change()
    {
        var db = await server.CreateDatabaseAsync("lo_pieces");
        await PgServer.ExecuteAsync(db, "SELECT lo_from_bytea(5000, convert_to(repeat('0123456789', 10), 'UTF8')); SELECT lo_from_bytea(5001, 'small')");
        await using var conn = await Db.OpenAsync(db, "source", CancellationToken.None);

        // Pieces of 32 bytes: 100 bytes are hashed as four pieces; 'small' in one statement with the others.
        var before = await ReadAsync(conn);

        var text = string.Concat(Enumerable.Repeat("0123456789", 10));
        var pieces = string.Concat(Enumerable.Range(0, 4).Select(i => Sha256(text.Substring(i * 32, Math.Min(32, 100 - (i * 32)))) + "\n"));
        Assert.Equal(new LargeObjectFacts(100, Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(pieces)))), before[5000]);
        Assert.Equal(new LargeObjectFacts(5, Sha256("small")), before[5001]);

        await PgServer.ExecuteAsync(db, "SELECT lo_put(5000, 70, 'X')");
        var after = await ReadAsync(conn);
        var differences = new List<SchemaDifference>();
        LargeObjects.Compare(before, after, differences);

        var difference = Assert.Single(differences);
        Assert.Equal(("large object", "5000", DifferenceKind.Different), (difference.Kind, difference.Name, difference.Difference));
    }

    private static string Sha256(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    private static async Task<Dictionary<long, LargeObjectFacts>> ReadAsync(Npgsql.NpgsqlConnection conn)
    {
        await Db.ExecuteAsync(conn, "BEGIN", CancellationToken.None);
        var facts = await LargeObjects.ReadAsync(conn, CancellationToken.None, piece: 32);
        await Db.ExecuteAsync(conn, "COMMIT", CancellationToken.None);
        return facts;
    }
}
