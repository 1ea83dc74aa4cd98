using System.Text.RegularExpressions;

namespace PgRelocate.Tests;

/// <summary>
/// One launcher each: every child process of the engine is started by <c>Tools/ChildProcess</c>, described by
/// the runners or by the few documented places below; pg_restore's arguments are built by its runner only;
/// a restore has one public entry point.
/// </summary>
public partial class ArchitectureTests
{
    /// <summary>The one file that starts processes (Process, ProcessStartInfo).</summary>
    private const string Starter = "Tools/ChildProcess.cs";

    /// <summary>The files that describe a child process (a ChildProcessSpec), and why each may.</summary>
    private static readonly Dictionary<string, string> Describers = new(StringComparer.Ordinal)
    {
        ["Runners/PgDump.cs"] = "the one pg_dump runner",
        ["Runners/PgRestore.cs"] = "the one pg_restore runner",
        ["Tools/ChildProcess.cs"] = "ReadVersion: a program's --version, with an empty environment",
        ["Clusters/LocalCluster.cs"] = "initdb and pg_ctl of a throwaway local cluster (demo, tests)",
        ["Connections/LibpqProbe.cs"] = "psql -c 'SELECT 1' with the child environment the runners use",
        ["Tools/DetachedStart.cs"] = "setsid --fork: this program again, in the background (migrate --detach)",
        ["Demo/DemoPgBouncer.cs"] = "pgbouncer -d, the online demo's throwaway pooler (and chown of its folder when run as root), as LocalCluster starts the demo's servers",
        ["Poolers/PgBouncerConsole.cs"] = "psql -c to PgBouncer's admin console, which speaks the simple query protocol only (Npgsql sends the extended one)",
    };

    [Fact]
    public void Should_Start_Every_Child_Process_Through_Child_Process()
    {
        var broken = new List<string>();
        foreach (var (file, _) in CoreFiles())
        {
            var code = CodeOnly(File.ReadAllText(file));
            var relative = Path.GetRelativePath(CoreRoot(), file).Replace('\\', '/');
            if (relative != Starter && ProcessStart().Match(code) is { Success: true } start)
            {
                broken.Add($"{relative} starts a process itself ({start.Value}): describe it with a ChildProcessSpec and run it with ChildProcess");
            }

            if (!Describers.ContainsKey(relative) && code.Contains("new ChildProcessSpec(", StringComparison.Ordinal))
            {
                broken.Add($"{relative} describes a child process: pg_dump and pg_restore run through Runners/, a --version through ChildProcess.ReadVersion");
            }
        }

        Assert.True(broken.Count == 0, string.Join("\n", broken));
    }

    [Fact]
    public void Should_Build_Pg_Restore_Arguments_In_Its_Runner_Only()
    {
        // pg_dump takes the same flags but --use-list: its runner may name them.
        var broken = CoreFiles()
            .Select(f => (Relative: Path.GetRelativePath(CoreRoot(), f.File).Replace('\\', '/'), Code: CodeOnly(File.ReadAllText(f.File))))
            .Where(f => f.Relative != "Runners/PgRestore.cs")
            .SelectMany(f => PgRestoreFlag().Matches(f.Code)
                .Where(m => f.Relative != "Runners/PgDump.cs" || m.Groups[1].Value == "--use-list")
                .Select(m => $"{f.Relative}: {m.Groups[1].Value}"))
            .Distinct()
            .ToList();
        Assert.True(broken.Count == 0, "pg_restore's arguments are built by Runners/PgRestore.cs (PgRestoreCall says what to restore):\n" + string.Join("\n", broken));
    }

    [Fact]
    public void Should_Restore_Through_One_Public_Entry_Point()
    {
        Assert.False(typeof(PgRelocate.Restore.RestoreRunner).IsPublic, "RestoreRunner is reached through ArchiveSources");
        var callers = CoreFiles()
            .Where(f => CodeOnly(File.ReadAllText(f.File)).Contains("new RestoreRunner(", StringComparison.Ordinal))
            .Select(f => Path.GetRelativePath(CoreRoot(), f.File).Replace('\\', '/'))
            .ToList();
        Assert.Equal(["Restore/ArchiveSources.cs"], callers);
    }

    /// <summary>A process started other than by ChildProcess: Process.Start, new Process, new ProcessStartInfo (qualified or not).</summary>
    [GeneratedRegex(@"\bProcess\.Start\(|\bnew\s+(?:System\.Diagnostics\.)?Process(?:StartInfo)?\b")]
    private static partial Regex ProcessStart();

    /// <summary>A string that begins with one of pg_restore's selection or ownership flags ("--use-list=", $"--jobs={n}"; a bare "--jobs" is also our own option's name).</summary>
    [GeneratedRegex(@"""(?:(?:--use-list|--section|--no-owner|--no-acl|--single-transaction|--exit-on-error)[=""]|--jobs=)")]
    private static partial Regex PgRestoreFlag();
}
