using PgRelocate.Connections;

namespace PgRelocate.Migration;

/// <summary>
/// The parts of a command the tool prints for the user to run ("remove it with: pgrelocate cancel ID --source
/// URL", "resume it with: ..."): each such command works pasted as printed into a POSIX shell.
/// </summary>
public static class PastedCommand
{
    private const string HiddenPassword = ":***@";

    /// <summary>
    /// A connection for a printed command: without its password, which the command takes from libpq's sources when
    /// it runs (PGPASSWORD, the password file); shown as *** it would be taken for the password itself. Quoted for
    /// the shell when it has to be.
    /// </summary>
    public static string Connection(PgConnectionInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        return Quote(info.WithCredentials(info.User, null).ToString());
    }

    /// <summary>A connection as a journal records it (its password, if any, shown as ***), for a printed command.</summary>
    public static string Connection(string recorded)
    {
        ArgumentNullException.ThrowIfNull(recorded);
        return Quote(recorded.Replace(HiddenPassword, "@", StringComparison.Ordinal));
    }

    /// <summary>Whether two connections as the journal records them name the same database as the same user, their passwords aside.</summary>
    public static bool SameConnection(string recorded, string given) =>
        string.Equals(recorded.Replace(HiddenPassword, "@", StringComparison.Ordinal), given.Replace(HiddenPassword, "@", StringComparison.Ordinal), StringComparison.Ordinal);

    /// <summary>A word of a command line as a POSIX shell reads it back: as it is when it holds nothing the shell would interpret, else single-quoted.</summary>
    public static string Quote(string word)
    {
        ArgumentNullException.ThrowIfNull(word);
        return word.Length > 0 && word.All(c => char.IsAsciiLetterOrDigit(c) || "@%+=:,./_-".Contains(c, StringComparison.Ordinal))
            ? word
            : "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
    }
}
