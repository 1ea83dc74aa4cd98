namespace PgRelocate.Tools;

/// <summary>Where PgRelocate keeps logs and migration journals: <c>$XDG_STATE_HOME/pgrelocate</c>, else <c>~/.local/state/pgrelocate</c>.</summary>
public static class StatePaths
{
    public static string Root
    {
        get
        {
            var xdg = Environment.GetEnvironmentVariable("XDG_STATE_HOME");
            var baseDir = !string.IsNullOrEmpty(xdg)
                ? xdg
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "state");
            return Path.Combine(baseDir, "pgrelocate");
        }
    }

    /// <summary>A new log file path under the state folder, named by what it logs and when.</summary>
    public static string NewLogFile(string what) =>
        Path.Combine(Root, "logs", $"{what}-{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Guid.NewGuid().ToString("N")[..6]}.log");
}
