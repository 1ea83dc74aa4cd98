using PgRelocate.Online.Apply;

namespace PgRelocate.Tests.Online;

/// <summary>The column carry's rules that need no server: a rename told by column numbers, which type changes widen, what the catalogs' comparison alters.</summary>
public class ColumnCarryRulesTests
{
    [Fact]
    public void Should_Tell_A_Rename_In_The_Middle_By_Its_Number()
    {
        var renames = ColumnRenames.Of(["id", "name", "email"], [(1, "id"), (2, "full_name"), (3, null), (4, "email")], ["full_name"], ["name"]);

        Assert.Equal([("name", "full_name")], renames!.Renamed);
        Assert.False(renames.Unsure);
    }

    [Fact]
    public void Should_Tell_A_Rename_Of_The_Last_Column_When_No_Dropped_Column_Lies_After_The_Others()
    {
        var renames = ColumnRenames.Of(["id", "weight"], [(1, "id"), (2, "mass"), (3, "added")], ["mass", "added"], ["weight"]);

        Assert.Equal([("weight", "mass")], renames!.Renamed);
        Assert.False(renames.Unsure);
    }

    [Fact]
    public void Should_Take_A_Drop_And_An_Add_For_What_They_Are_Or_Say_It_Cannot_Tell()
    {
        // Dropped in the middle, added at the end: certain.
        var certain = ColumnRenames.Of(["id", "legacy", "name"], [(1, "id"), (2, null), (3, "name"), (4, "email")], ["email"], ["legacy"]);
        Assert.Empty(certain!.Renamed);
        Assert.False(certain.Unsure);

        // The last column dropped and one added, or renamed after an older drop: the table is copied again.
        var unsure = ColumnRenames.Of(["id", "legacy"], [(1, "id"), (2, null), (3, "former")], ["former"], ["legacy"]);
        Assert.Empty(unsure!.Renamed);
        Assert.True(unsure.Unsure);

        // Two gone and one come between the same columns: which one became it cannot be told.
        Assert.Null(ColumnRenames.Of(["id", "a", "b", "z"], [(1, "id"), (2, "c"), (3, null), (4, "z")], ["c"], ["a", "b"]));
    }

    [Theory]
    [InlineData(23u, -1, 20u, -1, true)] // int to bigint
    [InlineData(1043u, 24, 25u, -1, true)] // varchar(20) to text
    [InlineData(1043u, 24, 1043u, 44, true)] // varchar(20) to varchar(40)
    [InlineData(1043u, 44, 1043u, 24, false)] // narrower
    [InlineData(25u, -1, 1043u, 44, false)] // text to varchar(40): may cut
    [InlineData(1043u, 24, 23u, -1, false)] // varchar to int: a USING
    [InlineData(20u, -1, 23u, -1, false)] // bigint to int
    [InlineData(1700u, (8 << 16 | 2) + 4, 1700u, (10 << 16 | 2) + 4, true)] // numeric(8,2) to numeric(10,2)
    [InlineData(1700u, (8 << 16 | 2) + 4, 1700u, (8 << 16 | 3) + 4, false)] // numeric(8,2) to numeric(8,3): fewer integer digits
    [InlineData(23u, -1, 1700u, (12 << 16) + 4, true)] // int to numeric(12)
    public void Should_Make_Only_Widening_Type_Changes_In_Place(uint from, int fromModifier, uint to, int toModifier, bool widens) =>
        Assert.Equal(widens, ColumnTypes.Widens(from, fromModifier, to, toModifier));

    [Fact]
    public void Should_Alter_Defaults_Not_Null_And_Generated_Columns_As_The_Source_Has_Them()
    {
        const string T = "\"public\".\"t\"";
        var source = new List<ColumnAttributes>
        {
            new(T, "id", "integer", true, "", "", "nextval('public.t_id_seq'::regclass)"),
            new(T, "tier", "integer", false, "", "", "5"),
            new(T, "note", "text", true, "", "", null),
            new(T, "doubled", "integer", false, "", "s", "(tier * 2)"),
            new("\"public\".\"elsewhere\"", "x", "integer", false, "", "", "1"),
        };
        var target = new List<ColumnAttributes>
        {
            new(T, "id", "integer", true, "", "", "nextval('public.t_id_seq'::regclass)"),
            new(T, "tier", "integer", true, "", "", "3"),
            new(T, "note", "text", false, "", "", "''::text"),
            new(T, "gone", "integer", false, "", "s", "(tier * 3)"),
            // A plain column only the target has: the stream's (a rename no row has shown yet looks the same).
            new(T, "plain", "integer", false, "", "", null),
        };

        var statements = ColumnAttributeCarry.AttributeStatements(source, target).Select(s => s.Statement).ToList();

        Assert.Equal(
            [
                $"ALTER TABLE {T} ALTER COLUMN \"tier\" SET DEFAULT 5",
                $"ALTER TABLE {T} ALTER COLUMN \"tier\" DROP NOT NULL",
                $"ALTER TABLE {T} ALTER COLUMN \"note\" DROP DEFAULT",
                $"ALTER TABLE {T} ALTER COLUMN \"note\" SET NOT NULL",
                $"ALTER TABLE {T} ADD COLUMN IF NOT EXISTS \"doubled\" integer GENERATED ALWAYS AS ((tier * 2)) STORED",
                $"ALTER TABLE {T} DROP COLUMN IF EXISTS \"gone\"",
            ],
            statements);
    }

    [Fact]
    public void Should_Carry_Identity_Changes_And_A_Generated_Expression()
    {
        const string T = "\"public\".\"t\"";
        var source = new List<ColumnAttributes>
        {
            new(T, "made", "integer", true, "d", "", null),
            new(T, "plain", "integer", false, "", "", "7"),
            new(T, "always", "integer", true, "a", "", null),
            new(T, "doubled", "integer", false, "", "s", "(made * 3)"),
        };
        var target = new List<ColumnAttributes>
        {
            new(T, "made", "integer", false, "", "", "0"),
            new(T, "plain", "integer", true, "a", "", null),
            new(T, "always", "integer", true, "d", "", null),
            new(T, "doubled", "integer", false, "", "s", "(made * 2)"),
        };

        var statements = ColumnAttributeCarry.AttributeStatements(source, target).Select(s => s.Statement).ToList();

        Assert.Equal(
            [
                $"ALTER TABLE {T} ALTER COLUMN \"made\" SET NOT NULL",
                $"ALTER TABLE {T} ALTER COLUMN \"made\" DROP DEFAULT",
                $"ALTER TABLE {T} ALTER COLUMN \"made\" ADD GENERATED BY DEFAULT AS IDENTITY",
                $"ALTER TABLE {T} ALTER COLUMN \"plain\" DROP IDENTITY IF EXISTS",
                $"ALTER TABLE {T} ALTER COLUMN \"plain\" SET DEFAULT 7",
                $"ALTER TABLE {T} ALTER COLUMN \"plain\" DROP NOT NULL",
                $"ALTER TABLE {T} ALTER COLUMN \"always\" SET GENERATED ALWAYS",
                $"ALTER TABLE {T} ALTER COLUMN \"doubled\" SET EXPRESSION AS ((made * 3))",
            ],
            statements);
    }
}
