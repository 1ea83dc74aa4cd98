using System.Text.RegularExpressions;

namespace PgRelocate.Tests.Harness;

/// <summary>
/// The test project's own extension, <c>relocate_demo</c> (RealDatabases/Extension): it creates its own schema,
/// a configuration table registered with <c>pg_extension_config_dump</c>, a type and functions, as the
/// extensions providers pre-install do. Installed into a server installation's extension folder before use.
/// </summary>
public static partial class TestExtension
{
    public const string Name = "relocate_demo";

    private static readonly Lock Gate = new();

    /// <summary>Copies the control and script files into the extension folder of the server in <paramref name="serverBinDir"/>.</summary>
    public static void InstallInto(string serverBinDir)
    {
        var folder = ExtensionFolder(serverBinDir);
        lock (Gate)
        {
            foreach (var file in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "RealDatabases", "Extension")))
            {
                var to = Path.Combine(folder, Path.GetFileName(file));
                // Several test runs share an installation: write under a temporary name, then rename, so a
                // server never reads a half-written file.
                if (!File.Exists(to) || !File.ReadAllBytes(to).AsSpan().SequenceEqual(File.ReadAllBytes(file)))
                {
                    var temp = to + "." + Environment.ProcessId + ".tmp";
                    File.Copy(file, temp, overwrite: true);
                    File.Move(temp, to, overwrite: true);
                }
            }
        }
    }

    /// <summary>
    /// Debian's servers keep extensions in /usr/share/postgresql/MAJOR/extension; the self-contained trees
    /// under .tools keep them in share/postgresql/extension beside bin.
    /// </summary>
    public static string ExtensionFolder(string serverBinDir)
    {
        var tree = Path.GetFullPath(Path.Combine(serverBinDir, "..", "share", "postgresql", "extension"));
        if (Directory.Exists(tree))
        {
            return tree;
        }

        var debian = DebianBinDir().Match(Path.GetFullPath(serverBinDir));
        if (debian.Success)
        {
            var folder = $"/usr/share/postgresql/{debian.Groups[1].Value}/extension";
            if (Directory.Exists(folder))
            {
                return folder;
            }
        }

        throw new InvalidOperationException($"No extension folder found for the server in {serverBinDir}: run scripts/setup.sh test.");
    }

    [GeneratedRegex(@"^/usr/lib/postgresql/(\d+)/bin/?$")]
    private static partial Regex DebianBinDir();
}
