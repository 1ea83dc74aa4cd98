using System.Text.RegularExpressions;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests;

/// <summary>
/// The manual agrees with the command line: every command has a page in docs/, every option its <c>--help</c>
/// lists is named in that page (the options every command takes, in docs/commands.md), and every link of the
/// README and of docs/ to a page, and to a heading in it, resolves. No server: the tool's help and the files only.
/// </summary>
public partial class DocsTests
{
    /// <summary>Each command (a group's as "group command") and the page of docs/ that describes it.</summary>
    public static readonly Dictionary<string, string> Pages = new(StringComparer.Ordinal)
    {
        ["check"] = "check.md",
        ["settings capture"] = "settings.md",
        ["settings diff"] = "settings.md",
        ["settings apply"] = "settings.md",
        ["dump"] = "dump.md",
        ["restore"] = "restore.md",
        ["copy"] = "copy.md",
        ["verify"] = "verify.md",
        ["migrate"] = "migrate.md",
        ["cutover"] = "online.md",
        ["rollback"] = "online.md",
        ["finish"] = "online.md",
        ["list"] = "status.md",
        ["status"] = "status.md",
        ["info"] = "status.md",
        ["cancel"] = "status.md",
        ["url"] = "staging.md",
        ["staged rm"] = "staging.md",
        ["demo"] = "demo.md",
    };

    /// <summary>The page of the options every command takes (those <c>pgrelocate --help</c> lists).</summary>
    private const string CommonPage = "commands.md";

    public static TheoryData<string> Commands() => [.. Pages.Keys];

    [Fact]
    public async Task Should_Give_Every_Command_Of_The_Help_A_Page()
    {
        var listed = await LeafCommandsAsync([]);

        Assert.True(listed.ToHashSet().SetEquals(Pages.Keys),
            $"pgrelocate --help lists [{string.Join(", ", listed.Order())}]; DocsTests.Pages maps [{string.Join(", ", Pages.Keys.Order())}]: give a new command its page in docs/ and its line in Pages.");
        foreach (var page in Pages.Values.Append(CommonPage).Distinct())
        {
            Assert.True(File.Exists(Path.Combine(DocsRoot(), page)), $"docs/{page} is missing");
        }
    }

    [Fact]
    public async Task Should_Describe_The_Options_Of_Every_Command_In_The_Commands_Page()
    {
        var missing = OptionsOf(await HelpAsync([])).Where(o => !Names(Read(CommonPage), o)).ToList();

        Assert.True(missing.Count == 0, $"docs/{CommonPage} does not name {string.Join(", ", missing)}, which pgrelocate --help lists");
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task Should_Describe_Every_Option_Of_A_Command_In_Its_Page(string command)
    {
        var common = OptionsOf(await HelpAsync([])).ToHashSet(StringComparer.Ordinal);
        var listed = OptionsOf(await HelpAsync(command.Split(' '))).ToList();
        var page = Read(Pages[command]);

        Assert.Contains("--help", listed); // the help's options were read at all
        var missing = listed.Where(o => !common.Contains(o) && !Names(page, o)).ToList();
        Assert.True(missing.Count == 0, $"docs/{Pages[command]} does not name {string.Join(", ", missing)}, which pgrelocate {command} --help lists");
    }

    [Fact]
    public void Should_Resolve_Every_Link_Of_The_Readme_And_The_Docs()
    {
        var root = Path.GetDirectoryName(DocsRoot())!;
        var files = Directory.GetFiles(DocsRoot(), "*.md").Prepend(Path.Combine(root, "README.md")).ToList();
        var broken = new List<string>();
        foreach (var file in files)
        {
            foreach (Match link in MarkdownLink().Matches(File.ReadAllText(file)))
            {
                var (target, anchor) = (link.Groups["path"].Value, link.Groups["anchor"].Value);
                var path = target.Length == 0 ? file : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, target));
                var where = $"{Path.GetRelativePath(root, file)}: ({link.Groups["path"].Value}{(anchor.Length > 0 ? "#" + anchor : "")})";
                if (!File.Exists(path))
                {
                    broken.Add($"{where}: no such file");
                }
                else if (anchor.Length > 0 && path.EndsWith(".md", StringComparison.Ordinal) && !Anchors(File.ReadAllText(path)).Contains(anchor))
                {
                    broken.Add($"{where}: no such heading");
                }
            }
        }

        Assert.True(broken.Count == 0, string.Join("\n", broken));
    }

    [Fact]
    public void Should_Link_Every_Page_Of_The_Docs_From_The_Readme_Or_Another_Page()
    {
        var root = Path.GetDirectoryName(DocsRoot())!;
        var readme = File.ReadAllText(Path.Combine(root, "README.md"));
        var pages = Directory.GetFiles(DocsRoot(), "*.md").Select(Path.GetFileName).OfType<string>().ToList();
        var linked = MarkdownLink().Matches(readme).Select(m => m.Groups["path"].Value)
            .Concat(pages.SelectMany(p => MarkdownLink().Matches(Read(p)).Select(m => "docs/" + m.Groups["path"].Value)))
            .ToHashSet(StringComparer.Ordinal);

        var unlinked = pages.Where(p => !linked.Contains("docs/" + p)).ToList();
        Assert.True(unlinked.Count == 0, "no link of the README or of docs/ leads to " + string.Join(", ", unlinked));
        Assert.Contains("make test", readme, StringComparison.Ordinal);
    }

    [Fact]
    public void Should_Make_Anchors_As_GitHub_Does()
    {
        var anchors = Anchors("# A page\n## The whole instance: `--databases`, `--all-databases`\n```sh\n# not a heading\n```\n## With `--roles`\n## With `--roles`\n");

        Assert.Equal(["a-page", "the-whole-instance---databases---all-databases", "with---roles", "with---roles-1"], anchors);
    }

    /// <summary>The commands a (group) command's help lists, groups opened: "settings capture", "dump", ...</summary>
    private static async Task<List<string>> LeafCommandsAsync(string[] parent)
    {
        var help = await HelpAsync(parent);
        var leaves = new List<string>();
        foreach (var name in Section(help, "Commands:").Select(l => l.Split(' ', 2)[0]))
        {
            string[] command = [.. parent, name];
            var own = await HelpAsync(command);
            leaves.AddRange(Section(own, "Commands:").Any() ? await LeafCommandsAsync(command) : [string.Join(' ', command)]);
        }

        return leaves;
    }

    private static readonly Dictionary<string, Task<string>> Helps = new(StringComparer.Ordinal);

    /// <summary><c>pgrelocate COMMAND --help</c>, run once per command for the whole class.</summary>
    private static Task<string> HelpAsync(string[] command)
    {
        lock (Helps)
        {
            var key = string.Join(' ', command);
            if (!Helps.TryGetValue(key, out var help))
            {
                help = RunHelpAsync(command);
                Helps[key] = help;
            }

            return help;
        }

        static async Task<string> RunHelpAsync(string[] command)
        {
            var result = await CliRunner.RunAsync([.. command, "--help"]);
            Assert.True(result.ExitCode == 0, result.ToString());
            return result.Stdout;
        }
    }

    /// <summary>The long options of a help's "Options:" section: "--source", "--to", ...</summary>
    private static IEnumerable<string> OptionsOf(string help) =>
        Section(help, "Options:")
            .Select(l => l.Split("  ", 2)[0])
            .SelectMany(column => LongOption().Matches(column).Select(m => m.Value))
            .Distinct();

    /// <summary>The lines of a help's section, trimmed, up to the next blank line.</summary>
    private static IEnumerable<string> Section(string help, string title) =>
        help.Split('\n').Select(l => l.TrimEnd('\r'))
            .SkipWhile(l => l.Trim() != title).Skip(1)
            .TakeWhile(l => l.Trim().Length > 0)
            .Select(l => l.Trim());

    private static bool Names(string page, string option) =>
        Regex.IsMatch(page, $@"(?<![\w-]){Regex.Escape(option)}(?![\w-])");

    /// <summary>The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as hyphens, repeats numbered.</summary>
    private static List<string> Anchors(string markdown)
    {
        var anchors = new List<string>();
        var fenced = false;
        foreach (var line in markdown.Split('\n'))
        {
            if (line.StartsWith("```", StringComparison.Ordinal))
            {
                fenced = !fenced;
            }
            else if (!fenced && Heading().Match(line) is { Success: true } heading)
            {
                var slug = Slug().Replace(heading.Groups[1].Value.Trim().ToLowerInvariant(), "").Replace(' ', '-');
                var repeats = anchors.Count(a => a == slug || Regex.IsMatch(a, $"^{Regex.Escape(slug)}-\\d+$"));
                anchors.Add(repeats == 0 ? slug : $"{slug}-{repeats}");
            }
        }

        return anchors;
    }

    private static string Read(string page) => File.ReadAllText(Path.Combine(DocsRoot(), page));

    private static string DocsRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "PgRelocate.sln")))
            {
                return Path.Combine(dir.FullName, "docs");
            }
        }

        throw new InvalidOperationException("The checkout (PgRelocate.sln) was not found above the test's folder.");
    }

    [GeneratedRegex(@"--[a-z][a-z0-9-]*")]
    private static partial Regex LongOption();

    /// <summary>A link to a file of the checkout or to a heading: [text](docs/page.md#anchor), [text](#anchor); not a URL.</summary>
    [GeneratedRegex(@"\]\((?<path>(?![a-z]+:)[^)#\s]*)(?:#(?<anchor>[^)\s]+))?\)")]
    private static partial Regex MarkdownLink();

    [GeneratedRegex(@"^#{1,6}\s+(.+)$")]
    private static partial Regex Heading();

    [GeneratedRegex(@"[^\p{L}\p{Nd}\s_-]")]
    private static partial Regex Slug();
}
