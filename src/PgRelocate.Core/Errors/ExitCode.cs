namespace PgRelocate.Errors;

/// <summary>The process exit codes every command uses; the README and docs/safety.md document them.</summary>
public enum ExitCode
{
    /// <summary>Everything asked for was done.</summary>
    Success = 0,

    /// <summary>The operation failed: server, network, authentication, child process.</summary>
    Failed = 1,

    /// <summary>Usage or bad input: unknown flag, malformed URL, missing or wrong --confirm, a file that is not an archive.</summary>
    Usage = 2,

    /// <summary>Differences found (verify) or blockers found (preflight).</summary>
    Differences = 3,

    /// <summary>
    /// A bug in PgRelocate: an exception nobody expected (sysexits' EX_SOFTWARE). Distinct from
    /// <see cref="Failed"/> so scripts and reports can tell "the network dropped" from "please report this".
    /// </summary>
    Bug = 70,

    /// <summary>Interrupted by Ctrl-C or a cancel request.</summary>
    Interrupted = 130,
}
