using PgRelocate.Connections;
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

    /// <summary>
    /// How many of the copy's sessions work at once: the pre-data section's pg_restore runs and the data phase's COPY
    /// streams and index builds (see <see cref="WorkGate"/>). Where both servers are near, their cores are the limit:
    /// as many as the larger of --jobs and --index-jobs. Where either is far, a small table's copy or a schema
    /// statement mostly waits on the network: every session the copy opens works at once, --jobs plus --index-jobs,
    /// as many connections as the target's check made sure of. Behind a 4 ms round trip, at 1,000 tables, the
    /// pre-data section took 2.6 s in four runs where it took 4.5 s in two.
    /// </summary>
    internal int Lanes => LanesFor(Options.Jobs, Options.IndexJobs, Far);

    /// <summary>How many of the copy's sessions work at once with these jobs, a server far or not (see <see cref="Lanes"/>): the estimate's too.</summary>
    internal static int LanesFor(int jobs, int indexJobs, bool far) => far ? jobs + indexJobs : Math.Max(jobs, indexJobs);

    /// <summary>
    /// post-data's pg_restore jobs: the index builders near (its foreign keys' checks and indexes are CPU work),
    /// every lane far (post-data 0.8 s with four jobs where it took 1.3 s with two, behind a 4 ms round trip); one
    /// near where nothing in it grows with the data (see <see cref="Restore.PostDataRest"/>: pg_restore's parallel
    /// mode costs seconds before its first statement at thousands of tables).
    /// </summary>
    internal int PostDataJobs => Far ? Lanes : Schema.RestScalesWithData ? Options.IndexJobs : 1;

    /// <summary>The sessions validating the foreign keys after the rest of post-data (see <see cref="Restore.ForeignKeyValidation"/>): as post-data's where its work grows with the data.</summary>
    internal int ForeignKeyJobs => Far ? Lanes : Options.IndexJobs;

    /// <summary>Whether the source or the target is a millisecond or more away (<see cref="RoundTrip.Far"/>).</summary>
    internal bool Far => RoundTrip >= Connections.RoundTrip.Far;

    /// <summary>The longer of the source's and the target's round trips.</summary>
    internal TimeSpan RoundTrip => Snapshot.RoundTrip > Prepared.RoundTrip ? Snapshot.RoundTrip : Prepared.RoundTrip;

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
