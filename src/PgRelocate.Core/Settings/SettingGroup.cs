namespace PgRelocate.Settings;

public enum SettingGroup
{
    /// <summary>Changes what queries return or how sessions behave: the application notices.</summary>
    Behaviour,

    /// <summary>Sized or placed by the provider (memory, paths, ports, replication, logging): expected to differ.</summary>
    Infrastructure,
}
