using System.Diagnostics;

namespace PgRelocate.Tests.Harness;

/// <summary>Debian's Chromium, headless, as a person's browser would load a page: the DOM after it ran, or a screenshot.</summary>
public static class HeadlessChromium
{
    public static async Task<string> DumpDomAsync(string htmlFile) => (await RunAsync(htmlFile, "--dump-dom")).Stdout;

    public static async Task ScreenshotAsync(string htmlFile, string pngFile) => await RunAsync(htmlFile, $"--screenshot={pngFile}", "--window-size=1200,1400");

    private static async Task<(string Stdout, string Stderr)> RunAsync(string htmlFile, params string[] extra)
    {
        var profile = Directory.CreateTempSubdirectory("pgrelocate-chromium-");
        try
        {
            // No network of any kind: the page must be self-contained, and this machine reaches nothing else.
            var info = new ProcessStartInfo("chromium")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var a in (string[])["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         $"--user-data-dir={profile.FullName}", .. extra, new Uri(Path.GetFullPath(htmlFile)).AbsoluteUri])
            {
                info.ArgumentList.Add(a);
            }

            using var p = Process.Start(info) ?? throw new InvalidOperationException("chromium did not start: run scripts/setup.sh test.");
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await p.WaitForExitAsync(timeout.Token);
            return (await stdout, await stderr);
        }
        finally
        {
            profile.Delete(recursive: true);
        }
    }
}
