using PgRelocate.Errors;
using PgRelocate.Settings;

namespace PgRelocate.Tests.Preflight;

public class SettingValueTests
{
    [Theory]
    [InlineData("4096", "kB", "4096kB")]
    [InlineData("16", "8kB", "128kB")]
    [InlineData("30000", "ms", "30000ms")]
    [InlineData("-1", "ms", "-1")]
    [InlineData("Europe/Paris", null, "Europe/Paris")]
    public void Should_Render_Values_With_Their_Unit(string setting, string? unit, string expected) =>
        Assert.Equal(expected, SettingValue.WithUnit(setting, unit));

    [Fact]
    public void Should_Quote_Each_Search_Path_Element_And_Nothing_Else()
    {
        var path = new PgSetting("search_path", "\"$user\", public, \"we\"\"ird\"", null, "", "user", "string", "default");
        var zone = new PgSetting("TimeZone", "O'Hare; DROP", null, "", "user", "string", "default");

        Assert.Equal("\"$user\", \"public\", \"we\"\"ird\"", SettingValue.ToSql(path));
        Assert.Equal("'O''Hare; DROP'", SettingValue.ToSql(zone));
    }

    [Fact]
    public void Should_Read_Quoted_Fields_With_Commas_And_Newlines()
    {
        var csv = "name,setting,unit,category,short_desc,extra_desc,context,vartype,source\n" +
                  "DateStyle,\"ISO, MDY\",,Client,\"Sets the display format\",\"line one\nline \"\"two\"\"\",user,string,configuration file\n";

        var settings = SettingsCsv.Read(new StringReader(csv), "inline");

        var s = Assert.Single(settings);
        Assert.Equal("ISO, MDY", s.Setting);
        Assert.Equal("user", s.Context);
    }

    [Fact]
    public void Should_Reject_A_Csv_Without_The_Settings_Columns()
    {
        var e = Assert.Throws<UsageException>(() => SettingsCsv.Read(new StringReader("id,email\n1,a@b\n"), "customers.csv"));

        Assert.StartsWith("'customers.csv' is not a pg_settings CSV (its header lacks name, setting", e.Message, StringComparison.Ordinal);
    }
}
