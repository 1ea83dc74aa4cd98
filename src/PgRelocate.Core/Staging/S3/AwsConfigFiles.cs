namespace PgRelocate.Staging.S3;

/// <summary>
/// Reads a profile from <c>~/.aws/credentials</c> and <c>~/.aws/config</c> (or AWS_SHARED_CREDENTIALS_FILE /
/// AWS_CONFIG_FILE), as the AWS CLI does: <c>[NAME]</c> in credentials, <c>[profile NAME]</c> in config
/// (<c>[default]</c> in both). Only the keys this tool needs are read.
/// </summary>
internal static class AwsConfigFiles
{
    public static Dictionary<string, string> Profile(string name, StagingOptions options)
    {
        var home = options.Env("HOME") ?? System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile);
        var credentials = options.Env("AWS_SHARED_CREDENTIALS_FILE") ?? Path.Combine(home, ".aws", "credentials");
        var config = options.Env("AWS_CONFIG_FILE") ?? Path.Combine(home, ".aws", "config");
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        Merge(result, config, name == "default" ? "default" : "profile " + name);
        Merge(result, credentials, name);
        return result;
    }

    private static void Merge(Dictionary<string, string> into, string file, string section)
    {
        if (!File.Exists(file))
        {
            return;
        }

        string? current = null;
        foreach (var raw in File.ReadLines(file))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] is '#' or ';')
            {
                continue;
            }

            if (line[0] == '[' && line[^1] == ']')
            {
                current = line[1..^1].Trim();
                continue;
            }

            var eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0 && string.Equals(current, section, StringComparison.Ordinal))
            {
                // Credentials override config for the same key, as the CLI does.
                into[line[..eq].Trim()] = line[(eq + 1)..].Trim();
            }
        }
    }
}
