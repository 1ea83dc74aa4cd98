namespace PgRelocate.Settings;

/// <summary>One row of <c>pg_settings</c>, with the columns the comparison needs.</summary>
public sealed record PgSetting(string Name, string Setting, string? Unit, string Category, string Context, string Vartype, string Source)
{
    /// <summary>The value as a user writes it: "4096" with unit "kB" is "4096kB"; "16" with unit "8kB" is "128kB".</summary>
    public string Display => SettingValue.WithUnit(Setting, Unit);
}
