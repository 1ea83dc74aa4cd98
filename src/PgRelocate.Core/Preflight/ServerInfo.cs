namespace PgRelocate.Preflight;

/// <summary>What the runner learns about one side when it connects; every check may use it.</summary>
public sealed record ServerInfo(
    string Role,
    int VersionNum,
    string Version,
    string Database,
    string User,
    bool IsSuperuser,
    bool Ssl,
    string? SslVersion,
    int BackendPid)
{
    public int Major => VersionNum / 10000;

    public int Minor => VersionNum % 10000;

    public string MajorMinor => $"{Major}.{Minor}";
}
