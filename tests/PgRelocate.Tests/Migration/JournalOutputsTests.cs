using System.Text.Json.Nodes;
using NpgsqlTypes;
using PgRelocate.Migration;
using PgRelocate.Migration.Steps;
using PgRelocate.Online;
using PgRelocate.Online.Fallback;
using PgRelocate.Online.Steps;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Migration;

/// <summary>
/// The steps' outputs read and written through typed keys (<see cref="JournalKey{T}"/>): a journal written before
/// the keys existed reads as it was written, and a journal written now holds the text earlier versions wrote.
/// </summary>
public class JournalOutputsTests
{
    /// <summary>A journal as versions before the typed keys wrote it: every output as text.</summary>
    private const string Earlier = """
        {
          "id": "20260101-000000-abcd",
          "source": "postgresql://app@127.0.0.1:5432/shop",
          "target": "postgresql://app@127.0.0.1:5433/shop",
          "options": { "online": "True" },
          "status": "Running",
          "createdAt": "2026-01-01T00:00:00+00:00",
          "steps": [
            { "name": "dump", "status": "Done", "outputs": { "archive": "/w/archive.dump", "bytes": "1234", "databaseBytes": "98765", "sha256": "ab12" } },
            { "name": "read-only source", "status": "Done", "outputs": { "readOnly": "on" } },
            { "name": "snapshot copy", "status": "Done", "outputs": { "slot": "pgrelocate_x", "publication": "pgrelocate_x", "startLsn": "0/16B3748", "replicaIdentityFull": "\"public\".\"a\"\n\"public\".\"b\"", "rows": "12" } },
            { "name": "follow", "status": "Done", "outputs": { "verified": "3 tables identical", "changes": "40", "pgbouncer": "repointed", "pgbouncerPausedAt": "2026-01-01T00:01:02.5000000+00:00" } },
            { "name": "cutover", "status": "Done", "outputs": { "writeDowntimeSeconds": "1.234", "applicationPauseSeconds": "0.500", "changedTables": "\"public\".\"a\"", "transactions": "7" } },
            { "name": "way back capture", "status": "Done", "outputs": { "capture": "on", "seconds": "0.250" } },
            { "name": "way back", "status": "Done", "outputs": { "ended": "Rollback", "rolledBack": "yes" } },
            { "name": "verify", "status": "Done", "outputs": { "tables": "3", "differences": "False" } }
          ]
        }
        """;

    [Fact]
    public void Should_Read_The_Outputs_Of_A_Journal_Written_Before_The_Typed_Keys()
    {
        using var dir = new TempDir();
        var journal = Write(dir, Earlier);

        Assert.Equal("/w/archive.dump", journal.Output(DumpStep.StepName, DumpStep.Archive));
        Assert.Equal(1234L, journal.Output(DumpStep.StepName, DumpStep.ArchiveBytes));
        Assert.Equal(98765L, journal.Output(DumpStep.StepName, DumpStep.DatabaseBytes));
        Assert.True(ReadOnlySourceStep.LeftReadOnly(journal));
        Assert.Equal("pgrelocate_x", journal.Output(SnapshotCopyStep.StepName, SnapshotCopyStep.Slot));
        Assert.Equal(NpgsqlLogSequenceNumber.Parse("0/16B3748"), journal.Output(SnapshotCopyStep.StepName, SnapshotCopyStep.StartLsn));
        Assert.Equal(["\"public\".\"a\"", "\"public\".\"b\""], SnapshotCopyStep.IdentityTables(journal.Step(SnapshotCopyStep.StepName)));
        Assert.Equal("3 tables identical", journal.Output(FollowStep.StepName, FollowStep.Verified));
        Assert.True(PgBouncerSwitch.LeftPaused(journal));
        Assert.Equal(TimeSpan.FromSeconds(1.234), journal.Output(OnlineCutoverStep.StepName, OnlineCutoverStep.WriteDowntime));
        Assert.Equal(TimeSpan.FromSeconds(0.5), journal.Output(OnlineCutoverStep.StepName, OnlineCutoverStep.ApplicationPause));
        Assert.Equal(CaptureState.On, journal.Output(FallbackCaptureStep.StepName, FallbackCaptureStep.Capture));
        Assert.Equal(FallbackEnd.Rollback, FallbackStep.EndedAs(journal));
        Assert.True(journal.Output(FallbackStep.StepName, FallbackStep.RolledBack));
        Assert.False(journal.Output(VerifyStep.StepName, VerifyStep.Differences));

        // Missing outputs read as null, whatever their type.
        Assert.Null(journal.Output(DumpStep.StepName, DumpStep.SourceVersion));
        Assert.Null(journal.Output(RestoreStep.StepName, RestoreStep.Log));
        Assert.Null(journal.Output(FollowStep.StepName, OnlineCutoverStep.WriteDowntime));
    }

    [Fact]
    public void Should_Save_The_Outputs_Of_A_Journal_Written_Before_The_Typed_Keys_As_They_Were()
    {
        using var dir = new TempDir();
        var journal = Write(dir, Earlier);

        journal.Save();

        Assert.Equal(Outputs(Earlier), Outputs(File.ReadAllText(Path.Combine(journal.Folder, MigrationJournal.FileName))));
    }

    [Fact]
    public void Should_Write_Each_Output_As_The_Text_Earlier_Versions_Read()
    {
        using var dir = new TempDir();
        var journal = MigrationJournal.Create(dir.Path, "20260101-000000-beef", "s", "t", [DumpStep.StepName, ReadOnlySourceStep.StepName, OnlineCutoverStep.StepName, FollowStep.StepName], []);
        journal.Step(DumpStep.StepName).Set(DumpStep.ArchiveBytes, 1234);
        journal.Step(ReadOnlySourceStep.StepName).Set(ReadOnlySourceStep.ReadOnly, ReadOnlyState.Lifted);
        journal.Step(OnlineCutoverStep.StepName).Set(OnlineCutoverStep.WriteDowntime, TimeSpan.FromMilliseconds(1234.4));
        journal.Step(OnlineCutoverStep.StepName).Set(OnlineCutoverStep.ChangedTables, ["a", "b"]);
        journal.Step(FollowStep.StepName).Set(PgBouncerSwitch.State, PgBouncerState.Paused);
        journal.Step(FollowStep.StepName).Set(FollowStep.Changes, 5);
        journal.Step(FollowStep.StepName).Set(FollowStep.Changes, null);
        journal.Save();

        var outputs = Outputs(File.ReadAllText(Path.Combine(journal.Folder, MigrationJournal.FileName)));
        Assert.Equal("1234", outputs[DumpStep.StepName]["bytes"]);
        Assert.Equal("lifted", outputs[ReadOnlySourceStep.StepName]["readOnly"]);
        Assert.Equal("1.234", outputs[OnlineCutoverStep.StepName]["writeDowntimeSeconds"]);
        Assert.Equal("a\nb", outputs[OnlineCutoverStep.StepName]["changedTables"]);
        Assert.Equal(new Dictionary<string, string> { ["pgbouncer"] = "paused" }, outputs[FollowStep.StepName]);
    }

    private static MigrationJournal Write(TempDir dir, string json)
    {
        var id = JsonNode.Parse(json)!["id"]!.GetValue<string>();
        Directory.CreateDirectory(Path.Combine(dir.Path, id));
        File.WriteAllText(Path.Combine(dir.Path, id, MigrationJournal.FileName), json);
        return MigrationJournal.Load(dir.Path, id);
    }

    /// <summary>Each step's outputs in a journal's JSON, read without the journal's code.</summary>
    private static Dictionary<string, Dictionary<string, string>> Outputs(string json) =>
        JsonNode.Parse(json)!["steps"]!.AsArray().ToDictionary(
            s => s!["name"]!.GetValue<string>(),
            s => (s!["outputs"]?.AsObject() ?? []).ToDictionary(o => o.Key, o => o.Value!.GetValue<string>()));
}
