using System.Text;
using PgRelocate.Online;
using PgRelocate.Online.Apply;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Online;

/// <summary>
/// The file a marker names (<see cref="CarriedFile"/>): a renamed table keeps the earlier name the look found, so
/// that the apply can rename it from the name the target holds when the marker comes (the stream may have renamed
/// it since); a file written before the field existed still reads.
/// </summary>
public class CarriedFileTests
{
    private static readonly SourceRelation Sales = new(16397, "public", "sales", ["id", "qty"], [true, false], [23, 23], [-1, -1]);

    [Fact]
    public async Task Should_Keep_The_Earlier_Name_Of_A_Renamed_Table()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "marker");
        var renamed = new CarriedTable(Sales, "\"public\".\"sales\"", ["ALTER TABLE IF EXISTS \"public\".\"orders\" RENAME TO \"sales\""], ["\"public\".\"orders\""], HasRows: true, RenamedFrom: "\"public\".\"orders\"");

        // Nothing copied: the session that would read the rows is not used.
        await CarriedFile.WriteAsync(null!, path, [renamed], [], CancellationToken.None);

        var read = Assert.Single(new CarriedFile(path).Tables);
        Assert.Equal("\"public\".\"orders\"", read.RenamedFrom);
        Assert.Equal(renamed.Statements, read.Statements);
        Assert.Equal(renamed.Ties, read.Ties);
        Assert.Equal(Sales.Columns, read.Relation.Columns);
        Assert.Empty(new CarriedFile(path).Copied);
    }

    [Fact]
    public void Should_Read_A_File_Written_Before_Renames_Were_Kept()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "marker");
        using (var w = new BinaryWriter(File.Create(path), Encoding.UTF8))
        {
            // The earlier layout: the count first, no earlier name after the copied flag, then the rows.
            w.Write(1);
            w.Write(Sales.Id);
            w.Write(Sales.Schema);
            w.Write(Sales.Name);
            w.Write(2);
            foreach (var (column, key) in new[] { ("id", true), ("qty", false) })
            {
                w.Write(column);
                w.Write(key);
                w.Write(23u);
                w.Write(-1);
            }

            w.Write(1);
            w.Write("CREATE TABLE public.sales (id integer PRIMARY KEY, qty integer)");
            w.Write(0);
            w.Write(true);
            w.Write(true);
            w.Write("7\t\\N");
            w.Write(false);
        }

        var file = new CarriedFile(path);
        var table = Assert.Single(file.Copied);
        Assert.Null(table.RenamedFrom);
        var (_, row) = Assert.Single(file.Rows());
        Assert.Equal<string?>(["7", null], row.Values.AsEnumerable());
    }
}
