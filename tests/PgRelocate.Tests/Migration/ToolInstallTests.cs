using System.Diagnostics;
using System.Text.RegularExpressions;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Migration;

/// <summary>
/// PgRelocate installed as users install .NET tools: packed, installed from that folder alone (offline, into a
/// tool path of its own, leaving the machine's tools alone), and <c>pgrelocate --version</c> run from there.
/// Light under <c>make test</c>, which packed the tool before the tests (<c>PGRELOCATE_TEST_PACK</c>).
/// </summary>
public sealed partial class ToolInstallTests
{
    [Fact]
    public async Task Should_Install_As_A_Dotnet_Tool_That_Prints_Its_Version_And_Commit()
    {
        using var dir = new TempDir();
        var tools = dir.File("tools");
        // Packed as users pack it (make pack), but for this platform alone (users' packs hold five): the package that
        // points to the platforms' packages, and this platform's, compiled ahead of time (on linux-x64 to native
        // code). `make test` packed it once (scripts/test-tool.sh) and the other tests run it installed; run alone,
        // this test packs it with the same script.
        var rid = Platform();
        var native = rid == "linux-x64";
        var pack = Environment.GetEnvironmentVariable("PGRELOCATE_TEST_PACK") is { Length: > 0 } made ? made : await PackAsync(dir);
        // Only the packed folder: no network source is asked, and nothing lands in the machine's package cache.
        var config = dir.File("nuget.config");
        await File.WriteAllTextAsync(config, $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="pack" value="{pack}" />
              </packageSources>
            </configuration>
            """);
        var environment = new Dictionary<string, string> { ["NUGET_PACKAGES"] = dir.File("packages") };

        Assert.Equal(["PgRelocate.Tool.1.0.0.nupkg", $"PgRelocate.Tool.{rid}.1.0.0.nupkg"], Directory.GetFiles(pack, "PgRelocate.Tool.*.nupkg").Select(Path.GetFileName).Order(StringComparer.Ordinal));

        var installed = await RunAsync(environment, "dotnet", "tool", "install", "PgRelocate.Tool", "--tool-path", tools, "--configfile", config);
        Assert.True(installed.Code == 0, installed.Output);

        // The installed tool is the platform's package, its code compiled ahead of time: on linux-x64 one native
        // program and no assembly at all.
        if (native)
        {
            Assert.Empty(Directory.GetFiles(tools, "pgrelocate.dll", SearchOption.AllDirectories));
            var program = Assert.Single(Directory.GetFiles(tools, "pgrelocate", SearchOption.AllDirectories), f => f.Contains($"{Path.DirectorySeparatorChar}{rid}{Path.DirectorySeparatorChar}", StringComparison.Ordinal));
            Assert.True(IsElf(program), program + " is not a native program");
        }
        else
        {
            var installedDll = Assert.Single(Directory.GetFiles(tools, "pgrelocate.dll", SearchOption.AllDirectories));
            Assert.Contains($"{Path.DirectorySeparatorChar}{rid}{Path.DirectorySeparatorChar}", installedDll, StringComparison.Ordinal);
            Assert.True(IsReadyToRun(installedDll), installedDll + " holds no ahead-of-time code");
        }

        var version = await RunAsync(environment, Path.Combine(tools, "pgrelocate"), "--version");
        Assert.True(version.Code == 0, version.Output);
        var line = VersionLine().Match(version.Output);
        Assert.True(line.Success, version.Output);
        Assert.Equal(typeof(PgRelocate.Cli.Cli).Assembly.GetName().Version!.ToString(3), line.Groups[1].Value);
        // Built from a clone (as the tests are), the SDK put the commit in.
        Assert.Matches("^[0-9a-f]{40}$", line.Groups[2].Value);

        var uninstalled = await RunAsync(environment, "dotnet", "tool", "uninstall", "PgRelocate.Tool", "--tool-path", tools);
        Assert.True(uninstalled.Code == 0, uninstalled.Output);
        Assert.False(File.Exists(Path.Combine(tools, "pgrelocate")));
    }

    [Theory]
    [InlineData("1.0.0+0123456789abcdef0123456789abcdef01234567", "pgrelocate 1.0.0 (commit 0123456789abcdef0123456789abcdef01234567)")]
    [InlineData("1.0.0", "pgrelocate 1.0.0 (commit unknown)")]
    public void Should_Say_Unknown_When_Built_Without_A_Commit(string informational, string expected) =>
        Assert.Equal(expected, PgRelocate.Cli.Cli.VersionLine(informational));

    /// <summary>This machine's platform, as the tool's packages name theirs.</summary>
    private static string Platform()
    {
        var os = OperatingSystem.IsMacOS() ? "osx" : File.Exists("/etc/alpine-release") ? "linux-musl" : "linux";
        return $"{os}-{System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant()}";
    }

    /// <summary>Whether an assembly carries code compiled ahead of time (a ReadyToRun image has a managed native header).</summary>
    private static bool IsReadyToRun(string path)
    {
        using var stream = File.OpenRead(path);
        using var pe = new System.Reflection.PortableExecutable.PEReader(stream);
        return pe.PEHeaders.CorHeader is { ManagedNativeHeaderDirectory.Size: > 0 };
    }

    /// <summary>Whether a file is a native Linux program (ELF).</summary>
    private static bool IsElf(string path)
    {
        var head = new byte[4];
        using var stream = File.OpenRead(path);
        return stream.Read(head) == 4 && head is [0x7F, (byte)'E', (byte)'L', (byte)'F'];
    }

    /// <summary>The tool packed by <c>scripts/test-tool.sh</c> into a folder of <paramref name="dir"/> (as <c>make test</c> packs it); returns the folder.</summary>
    private static async Task<string> PackAsync(TempDir dir)
    {
        var (root, configuration) = Build();
        var pack = dir.File("pack");
        var packed = await RunAsync(new Dictionary<string, string>(), "bash", Path.Combine(root, "scripts", "test-tool.sh"), configuration, pack, dir.File("made"));
        Assert.True(packed.Code == 0, packed.Output);
        return pack;
    }

    /// <summary>The repository's root and the configuration these tests were built in (bin/Release/… or bin/Debug/…).</summary>
    private static (string Root, string Configuration) Build()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "PgRelocate.sln")))
        {
            dir = dir.Parent;
        }

        Assert.NotNull(dir);
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        return (dir.FullName, configuration);
    }

    private static async Task<(int Code, string Output)> RunAsync(IReadOnlyDictionary<string, string> environment, string program, params string[] args)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        info.Environment["DOTNET_NOLOGO"] = "1";
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        foreach (var (k, v) in environment)
        {
            info.Environment[k] = v;
        }

        using var p = Process.Start(info)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        // A bound for a hung child, not a measure: packing compiles the whole tool ahead of time (about two minutes of
        // two cores alone), and beside the rest of the suite it took over five.
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(15));
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', args)} did not finish in time.");
        }

        return (p.ExitCode, $"{program} {string.Join(' ', args)}: exit {p.ExitCode}\n{await stdout}{await stderr}");
    }

    [GeneratedRegex(@"^pgrelocate (\S+) \(commit (\S+)\)$", RegexOptions.Multiline)]
    private static partial Regex VersionLine();
}
