namespace PgRelocate.Migration;

/// <summary>
/// Kills this process with SIGKILL at a named point, so tests can prove a migration resumes from a crash
/// anywhere. Set <c>PGRELOCATE_FAULT</c> to <c>kill:STEP:start</c>, <c>kill:STEP:end</c> or
/// <c>kill:STEP:progress</c> (the step's first progress report after some work was done); <c>throw:</c> in place
/// of <c>kill:</c> throws an exception nobody expects instead, as a bug would. In an instance migration,
/// <c>kill:DATABASE/STEP:POINT</c> fires only in the migration of that database (see <see cref="Scope"/>). Unset, it does nothing.
/// </summary>
internal static class FaultInjection
{
    public const string Variable = "PGRELOCATE_FAULT";

    private static readonly string? Fault = Environment.GetEnvironmentVariable(Variable);

    private static readonly AsyncLocal<string?> CurrentScope = new();

    /// <summary>
    /// The database of the instance migration's child that this flow of work moves; null otherwise. Set by the flow
    /// itself (async-local): an online instance migration's databases follow side by side.
    /// </summary>
    public static string? Scope
    {
        get => CurrentScope.Value;
        set => CurrentScope.Value = value;
    }

    public static void At(string step, string point)
    {
        if (Scope is not null)
        {
            step = $"{Scope}/{step}";
        }

        if (Fault is not null && string.Equals(Fault, $"kill:{step}:{point}", StringComparison.Ordinal))
        {
            System.Diagnostics.Process.GetCurrentProcess().Kill();
            Thread.Sleep(Timeout.Infinite);
        }

        if (Fault is not null && string.Equals(Fault, $"throw:{step}:{point}", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"Fault injected at {step}:{point}.");
        }
    }
}
