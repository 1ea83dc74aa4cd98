namespace PgRelocate.Online.Follow;

/// <summary>The follow's part in carrying schema changes (<see cref="Apply.SchemaCarry"/>): when asked, beside the stream.</summary>
internal sealed partial class Follower
{
    /// <summary>True when the follow carries the source's schema changes (a source from PostgreSQL 14 on, not --on-schema-change stop).</summary>
    public bool CarriesSchemaChanges => _carry is not null;

    /// <summary>The tables the follow cannot carry yet (see the warning naming them); empty when none waits.</summary>
    public IReadOnlyList<string> WaitingToCarry => _carry?.Blocked ?? [];

    /// <summary>A mark of the carry's copies so far, for <see cref="CarriedSince"/>.</summary>
    public int Carries => _carry?.Copies.Carries ?? 0;

    /// <summary>The tables copied since <paramref name="mark"/>, or whose copy waits for its marker (see <see cref="Apply.CarriedCopies.CarriedSince"/>).</summary>
    public IReadOnlySet<string> CarriedSince(int mark) => _carry?.Copies.CarriedSince(mark) ?? new HashSet<string>();

    /// <summary>
    /// Carries now what the source's schema holds that the target lacks (new tables and partitions), without waiting
    /// for the watch's next look: their markers then come before any position taken after this (a verification's).
    /// </summary>
    public async Task CarryNowAsync(CancellationToken cancellationToken)
    {
        await OpenCarryAsync(cancellationToken);
        if (_carry is { } carry)
        {
            await carry.ReadTargetOnceAsync(_target, cancellationToken);
            await carry.LookAsync(cancellationToken);
            // What the stream does not show (defaults, NOT NULL, generated columns), for every table: a NOT NULL the target's rows do not meet yet waits for the cutover's.
            await carry.Attributes.AttributesAsync(_target, exact: false, cancellationToken);
        }
    }

    private async Task OpenCarryAsync(CancellationToken cancellationToken)
    {
        if (CarrySchemaChanges && !_carryOpened)
        {
            _carry = await Apply.SchemaCarry.OpenAsync(_source, _publication, _folder, _reporter, cancellationToken);
            _carryOpened = true;
            Watch.Carry = _carry;
        }
    }

    /// <summary>
    /// At the cutover, with the source read-only and every change applied: gives every target table the source's
    /// defaults, NOT NULLs and generated columns exactly (what the stream does not show); a change the target refuses
    /// stops the cutover, naming the SQL to run.
    /// </summary>
    public async Task CarryColumnAttributesAsync(CancellationToken cancellationToken)
    {
        await OpenCarryAsync(cancellationToken);
        if (_carry is { } carry)
        {
            await carry.Attributes.AttributesAsync(_target, exact: true, cancellationToken);
        }
    }
}
