using PgRelocate.Connections;
using PgRelocate.Online.Apply;
using PgRelocate.Progress;

namespace PgRelocate.Online.Follow;

/// <summary>
/// The follow's part in carrying schema changes (<see cref="SchemaCarry"/>): opened at the follow's first run when it
/// carries them (a source from PostgreSQL 14 on, not <c>--on-schema-change stop</c>), asked beside the stream by the
/// verification while following and the cutover, its source session closed at the end.
/// </summary>
/// <param name="applicationName">What the carry's session on the source is called (null: its default, see <see cref="CarrySession"/>).</param>
internal sealed class FollowCarry(PgConnectionInfo source, PgConnectionInfo target, string publication, string folder, IReporter reporter, bool wanted, string? applicationName = null) : IAsyncDisposable
{
    private bool _opened;

    /// <summary>The carry, once opened; null while not, and for good when the follow does not carry schema changes.</summary>
    public SchemaCarry? Carry { get; private set; }

    /// <summary>True when the follow carries the source's schema changes (a source from PostgreSQL 14 on, not --on-schema-change stop).</summary>
    public bool CarriesSchemaChanges => Carry is not null;

    /// <summary>The tables the follow cannot carry yet (see the warning naming them); empty when none waits.</summary>
    public IReadOnlyList<string> Waiting => Carry?.Blocked ?? [];

    /// <summary>A mark of the carry's copies so far, for <see cref="CarriedSince"/>.</summary>
    public int Carries => Carry?.Copies.Carries ?? 0;

    /// <summary>The tables copied since <paramref name="mark"/>, or whose copy waits for its marker (see <see cref="CarriedCopies.CarriedSince"/>).</summary>
    public IReadOnlySet<string> CarriedSince(int mark) => Carry?.Copies.CarriedSince(mark) ?? new HashSet<string>();

    /// <summary>Opens the carry the first time it is asked for (once: a source before PostgreSQL 14 stays without one).</summary>
    public async Task<SchemaCarry?> OpenAsync(CancellationToken cancellationToken)
    {
        if (wanted && !_opened)
        {
            Carry = await SchemaCarry.OpenAsync(source, publication, folder, reporter, cancellationToken, applicationName);
            _opened = true;
        }

        return Carry;
    }

    /// <summary>
    /// Carries now what the source's schema holds that the target lacks (new tables and partitions), without waiting
    /// for the watch's next look: their markers then come before any position taken after this (a verification's).
    /// </summary>
    public async Task NowAsync(CancellationToken cancellationToken)
    {
        if (await OpenAsync(cancellationToken) is { } carry)
        {
            await carry.ReadTargetOnceAsync(target, cancellationToken);
            await carry.LookAsync(cancellationToken);
            // What the stream does not show (defaults, NOT NULL, generated columns), for every table: a NOT NULL the target's rows do not meet yet waits for the cutover's.
            await carry.Attributes.AttributesAsync(target, exact: false, cancellationToken);
        }
    }

    /// <summary>
    /// At the cutover, with the source read-only and every change applied: gives every target table the source's
    /// defaults, NOT NULLs and generated columns exactly (what the stream does not show); a change the target refuses
    /// stops the cutover, naming the SQL to run.
    /// </summary>
    public async Task ColumnAttributesAsync(CancellationToken cancellationToken)
    {
        if (await OpenAsync(cancellationToken) is { } carry)
        {
            await carry.Attributes.AttributesAsync(target, exact: true, cancellationToken);
        }
    }

    /// <summary>
    /// True when the follow failed because the target's enum lacks a value the source added while following and the
    /// source's new values are now added (<see cref="SchemaObjects.AddedEnumValuesAsync"/>): the follow then applies
    /// again from the position stored in the target.
    /// </summary>
    public Task<bool> EnumValuesAddedAsync(Exception failure, CancellationToken cancellationToken) =>
        wanted ? SchemaObjects.AddedEnumValuesAsync(failure, source, target, reporter, cancellationToken) : Task.FromResult(false);

    public async ValueTask DisposeAsync()
    {
        if (Carry is { } carry)
        {
            Carry = null;
            await carry.DisposeAsync();
        }
    }
}
