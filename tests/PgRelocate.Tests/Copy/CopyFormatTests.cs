using System.Buffers.Binary;
using PgRelocate.Copy;
using PgRelocate.Restore;

namespace PgRelocate.Tests.Copy;

/// <summary>The pieces of copy that need no server: counting binary COPY rows, reading pg_restore's script.</summary>
public class CopyFormatTests
{
    [Fact]
    public void Should_Count_Rows_Of_A_Binary_Copy_Stream_However_It_Is_Cut()
    {
        var stream = BinaryCopy(rows: 1000);

        foreach (var piece in new[] { 1, 2, 3, 7, 64, stream.Length })
        {
            var counter = new BinaryCopyRowCounter();
            for (var i = 0; i < stream.Length; i += piece)
            {
                counter.Feed(stream.AsSpan(i, Math.Min(piece, stream.Length - i)));
            }

            Assert.Equal(1000, counter.Rows);
        }
    }

    /// <summary>A binary COPY stream with a header extension, NULLs, empty and long values.</summary>
    private static byte[] BinaryCopy(int rows)
    {
        var data = new List<byte>();
        data.AddRange("PGCOPY\n"u8.ToArray());
        data.AddRange(new byte[] { 0xff, 0x0d, 0x0a, 0x00 });
        data.AddRange(Int(0));
        data.AddRange(Int(3));
        data.AddRange(new byte[] { 1, 2, 3 });
        for (var r = 0; r < rows; r++)
        {
            data.AddRange(Short(3));
            data.AddRange(Int(-1));
            data.AddRange(Int(0));
            var value = new byte[r % 300];
            data.AddRange(Int(value.Length));
            data.AddRange(value);
        }

        data.AddRange(Short(-1));
        return [.. data];
    }

    private static byte[] Int(int v)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(b, v);
        return b;
    }

    private static byte[] Short(short v)
    {
        var b = new byte[2];
        BinaryPrimitives.WriteInt16BigEndian(b, v);
        return b;
    }
}
