namespace PgRelocate.Settings;

/// <summary>One setting whose value differs between the source and the target.</summary>
public sealed record SettingDifference(string Name, SettingGroup Group, string Source, string Target, bool OwnerMaySet);
