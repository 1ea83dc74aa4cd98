namespace PgRelocate.Settings;

/// <summary>The differences between two snapshots that matter, and the SQL that aligns the behavioural ones.</summary>
public sealed partial class SettingsDiff
{
    private SettingsDiff(SettingsSnapshot source, SettingsSnapshot target, IReadOnlyList<SettingDifference> differences)
    {
        SourceSnapshot = source;
        TargetSnapshot = target;
        Differences = differences;
    }

    public SettingsSnapshot SourceSnapshot { get; }

    public SettingsSnapshot TargetSnapshot { get; }

    public IReadOnlyList<SettingDifference> Differences { get; }

    public IEnumerable<SettingDifference> Behaviour => Differences.Where(d => d.Group == SettingGroup.Behaviour);

    public IEnumerable<SettingDifference> Infrastructure => Differences.Where(d => d.Group == SettingGroup.Infrastructure);

    /// <summary>
    /// Compares the settings both sides know; a setting only one server version has is a version
    /// difference, not a configuration one, and is left out.
    /// </summary>
    public static SettingsDiff Compare(SettingsSnapshot source, SettingsSnapshot target)
    {
        var differences = new List<SettingDifference>();
        foreach (var (name, s) in source.Settings.OrderBy(p => p.Key, StringComparer.OrdinalIgnoreCase))
        {
            if (!target.Settings.TryGetValue(name, out var t) || SettingsClassifier.Classify(s) is not { } group)
            {
                continue;
            }

            if (!string.Equals(s.Display, t.Display, StringComparison.Ordinal))
            {
                differences.Add(new SettingDifference(s.Name, group, s.Display, t.Display, SettingsClassifier.OwnerMaySet(t)));
            }
        }

        return new SettingsDiff(source, target, differences);
    }

    /// <summary>
    /// <c>ALTER DATABASE ... SET</c> statements giving the target database the source's behaviour, for the
    /// settings its owner may set; the others come back as comments saying why they are left out.
    /// </summary>
    public IReadOnlyList<string> Statements(string database)
    {
        var lines = new List<string>();
        foreach (var d in Behaviour)
        {
            var setting = SourceSnapshot.Settings[d.Name];
            if (!SafeName().IsMatch(d.Name))
            {
                // The name comes from a file: never paste it into SQL unless it is a plain parameter name.
                lines.Add($"-- skipped a setting whose name is not a parameter name.");
            }
            else if (d.OwnerMaySet)
            {
                lines.Add($"ALTER DATABASE {Connections.Db.Ident(database)} SET {d.Name} = {SettingValue.ToSql(setting)};");
            }
            else
            {
                lines.Add($"-- {d.Name}: only a superuser or the provider may change it (source {d.Source}, target {d.Target}).");
            }
        }

        return lines;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_.]*$")]
    private static partial System.Text.RegularExpressions.Regex SafeName();
}
