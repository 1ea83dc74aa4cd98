using PgRelocate.Runners;
using PgRelocate.Targets;
using PgRelocate.Tools;

namespace PgRelocate.Copy;

/// <summary>
/// A copy that has read and checked everything and written nothing (<see cref="CopyRunner.StartAsync"/>): the
/// source's snapshot is open, its schema dumped and read, the target checked, pg_restore's connection tried. Its
/// owner either finishes it (<see cref="CopyRunner.FinishAsync"/>) or disposes it, which ends the snapshot and
/// deletes the schema's dump; the target is then as it was.
/// </summary>
public sealed class CopyStart : IAsyncDisposable
{
    internal CopyStart(CopyOptions options, StepClock clock, string folder, SourceSnapshot snapshot, CopyLog log)
    {
        Options = options;
        Clock = clock;
        Folder = folder;
        Snapshot = snapshot;
        Log = log;
    }

    public CopyOptions Options { get; }

    internal StepClock Clock { get; }

    /// <summary>The temporary folder of the schema's dump and pg_restore's lists.</summary>
    internal string Folder { get; }

    internal SourceSnapshot Snapshot { get; }

    internal CopyLog Log { get; }

    /// <summary>What the checks found on the target, and how to empty it.</summary>
    internal TargetPreparation Prepared { get; set; } = null!;

    /// <summary>The pg_restore that restores the schema into the target's major.</summary>
    internal PgTool PgRestoreTool { get; set; } = null!;

    internal SchemaArchive Schema { get; set; } = null!;

    /// <summary>Why pg_restore's connection was not tried beforehand, when it was not: a warning for the copy's start.</summary>
    internal string? ProbeSkipped { get; set; }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Snapshot.DisposeAsync();
            await Log.DisposeAsync();
        }
        finally
        {
            Interrupts.DeleteTempFolder(Folder);
        }
    }
}
