using PgRelocate.Runners;

namespace PgRelocate.Tests.Restore;

/// <summary>The one reading of pg_restore's verbose lines, which the progress and the following restore's lanes share.</summary>
public class PgRestoreStepTests
{
    [Theory]
    [InlineData("pg_restore: creating TABLE \"public.items\"", PgRestoreStepKind.Creating, "TABLE \"public.items\"", null)]
    [InlineData("pg_restore: processing data for table \"public.items\"", PgRestoreStepKind.ProcessingData, "table \"public.items\"", "public.items")]
    [InlineData("pg_restore: processing data for table \"odd \"\"name\"\"\"", PgRestoreStepKind.ProcessingData, "table \"odd \"\"name\"\"\"", "odd \"\"name\"\"")]
    [InlineData("pg_restore: processing item 12 TABLE DATA items", PgRestoreStepKind.Processing, "item 12 TABLE DATA items", null)]
    [InlineData("pg_restore: executing SEQUENCE SET items_id_seq", PgRestoreStepKind.Executing, "SEQUENCE SET items_id_seq", null)]
    [InlineData("pg_restore: restoring large object with OID 16400", PgRestoreStepKind.Restoring, "large object with OID 16400", null)]
    [InlineData("pg_restore: finished item 12 TABLE DATA items", PgRestoreStepKind.Finished, "TABLE DATA items", null)]
    public void Should_Read_A_Step_From_A_Verbose_Line(string line, object kind, string subject, string? table)
    {
        var step = PgRestoreStep.Parse(line);

        Assert.Equal(new PgRestoreStep((PgRestoreStepKind)kind, subject), step);
        Assert.Equal(table, step!.Table);
    }

    [Theory]
    [InlineData("pg_restore: connecting to database for restore")]
    [InlineData("pg_restore: error: could not execute query: ERROR:  relation \"x\" already exists")]
    [InlineData("Command was: CREATE TABLE x (id int);")]
    public void Should_Read_No_Step_From_Other_Lines(string line) => Assert.Null(PgRestoreStep.Parse(line));
}
