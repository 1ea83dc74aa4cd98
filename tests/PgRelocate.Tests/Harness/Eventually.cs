using System.Diagnostics;

namespace PgRelocate.Tests.Harness;

/// <summary>
/// The one poll of the tests: a condition looked at again and again, with a bound, in place of a fixed sleep.
/// A condition may fail the test itself (the work it waits for ended first); a test that needs the state says
/// so with <see cref="True(Func{Task{bool}}, TimeSpan, string, TimeSpan?)"/>, one that only waits for it with
/// <see cref="Holds(Func{Task{bool}}, TimeSpan, TimeSpan?)"/>.
/// </summary>
public static class Eventually
{
    /// <summary>How long a poll waits between two looks unless told.</summary>
    public static readonly TimeSpan Every = TimeSpan.FromMilliseconds(100);

    /// <summary>True as soon as <paramref name="condition"/> holds; false once <paramref name="timeout"/> has passed without it.</summary>
    public static async Task<bool> Holds(Func<Task<bool>> condition, TimeSpan timeout, TimeSpan? every = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (await condition())
            {
                return true;
            }

            if (clock.Elapsed >= timeout)
            {
                return false;
            }

            await Task.Delay(every ?? Every);
        }
    }

    /// <inheritdoc cref="Holds(Func{Task{bool}}, TimeSpan, TimeSpan?)"/>
    public static Task<bool> Holds(Func<bool> condition, TimeSpan timeout, TimeSpan? every = null) =>
        Holds(() => Task.FromResult(condition()), timeout, every);

    /// <summary>Waits until <paramref name="condition"/> holds; fails the test with <paramref name="failure"/> once <paramref name="timeout"/> has passed without it.</summary>
    public static async Task True(Func<Task<bool>> condition, TimeSpan timeout, string failure, TimeSpan? every = null)
    {
        if (!await Holds(condition, timeout, every))
        {
            Assert.Fail(failure);
        }
    }

    /// <inheritdoc cref="True(Func{Task{bool}}, TimeSpan, string, TimeSpan?)"/>
    public static Task True(Func<bool> condition, TimeSpan timeout, string failure, TimeSpan? every = null) =>
        True(() => Task.FromResult(condition()), timeout, failure, every);
}
