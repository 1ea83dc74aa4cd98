using PgRelocate.Errors;

namespace PgRelocate.Online.Apply;

/// <summary>
/// The changes of large transactions the source streams before they commit (<see cref="StreamedChange"/>),
/// kept on disk, one file per transaction, until the transaction ends: a commit hands them back in order, to be
/// applied at the commit's place like any transaction; a rollback drops them, a subtransaction's rollback
/// drops its changes and those after them. Memory stays flat whatever the transaction's size, and the source
/// does not spill it to its own disk. The files hold table rows: only the user may read them, and they are
/// removed once applied, dropped, or when the follow's session ends (a new session is sent every
/// transaction that was not committed on the target again from its start).
/// </summary>
internal sealed class TransactionSpool : IDisposable
{
    private readonly string _folder;
    private readonly Dictionary<uint, Spooled> _open = [];

    /// <summary>
    /// The source's tables as the stream described them, by number in the files (the same object for every change to
    /// one); forgotten once no file is open or being read (see <see cref="ForgetRelationsWhenIdle"/>).
    /// </summary>
    private readonly List<SourceRelation> _relations = [];
    private readonly Dictionary<SourceRelation, int> _relationNumbers = new(ReferenceEqualityComparer.Instance);

    /// <summary>Committed transactions' files being read (<see cref="Commit"/>): their numbers still name descriptions.</summary>
    private int _replaying;

    /// <param name="migrationFolder">The migration's folder: the files go in a folder of their own inside it.</param>
    public TransactionSpool(string migrationFolder)
    {
        _folder = FolderIn(migrationFolder);
        // Left by a session that ended without cleaning up (a kill): the source sends those transactions again.
        RemoveLeftIn(migrationFolder);
    }

    private static string FolderIn(string migrationFolder) => Path.Combine(migrationFolder, "streamed");

    /// <summary>Removes what a follow that was killed kept on disk (table rows of transactions not committed on the target).</summary>
    public static void RemoveLeftIn(string migrationFolder)
    {
        if (Directory.Exists(FolderIn(migrationFolder)))
        {
            Directory.Delete(FolderIn(migrationFolder), recursive: true);
        }
    }

    /// <summary>Transactions with changes on disk, not ended yet.</summary>
    public int Open => _open.Count;

    /// <summary>How many of the stream's descriptions the spool holds by number.</summary>
    internal int Relations => _relations.Count;

    public void Add(StreamedChange streamed) => Guard(() =>
    {
        if (!_open.TryGetValue(streamed.Xid, out var spooled))
        {
            Directory.CreateDirectory(_folder);
            var path = Path.Combine(_folder, $"transaction-{streamed.Xid}.changes");
            var file = new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.Create,
                Access = FileAccess.ReadWrite,
                BufferSize = 1 << 16,
                UnixCreateMode = OperatingSystem.IsWindows() ? null : UnixFileMode.UserRead | UnixFileMode.UserWrite,
            });
            spooled = _open[streamed.Xid] = new Spooled(path, file);
        }

        // Where each subtransaction's changes start, for its rollback.
        spooled.Starts.TryAdd(streamed.SubXid, spooled.File.Position);
        Write(spooled.Writer, streamed.Change);
    });

    /// <summary>Drops a rolled back transaction's changes, or a subtransaction's and every change after its first.</summary>
    public void Abort(StreamAbortChange abort) => Guard(() =>
    {
        if (!_open.TryGetValue(abort.Xid, out var spooled))
        {
            return;
        }

        if (abort.SubXid == abort.Xid)
        {
            _open.Remove(abort.Xid);
            spooled.Dispose();
            ForgetRelationsWhenIdle();
            return;
        }

        if (spooled.Starts.TryGetValue(abort.SubXid, out var start))
        {
            spooled.Writer.Flush();
            spooled.File.SetLength(start);
            spooled.File.Position = start;
            foreach (var later in spooled.Starts.Where(s => s.Value >= start).Select(s => s.Key).ToList())
            {
                spooled.Starts.Remove(later);
            }
        }
    });

    /// <summary>Removes a transaction's changes once it was applied without them (as it arrived).</summary>
    public void Drop(uint xid) => Guard(() =>
    {
        if (_open.Remove(xid, out var spooled))
        {
            spooled.Dispose();
            ForgetRelationsWhenIdle();
        }
    });

    /// <summary>
    /// A committed transaction as the applier takes any other: its begin, its changes in order, its commit. The
    /// file is removed once read to its end (or when the enumerator is disposed).
    /// </summary>
    public IEnumerator<Change> Commit(StreamCommitChange commit)
    {
        yield return new BeginChange(commit.CommitLsn, commit.CommitTime);
        if (_open.Remove(commit.Xid, out var spooled))
        {
            _replaying++;
            try
            {
                using (spooled)
                {
                    Guard(() =>
                    {
                        spooled.Writer.Flush();
                        spooled.File.Position = 0;
                    });
                    using var reader = new BinaryReader(spooled.File, System.Text.Encoding.UTF8, leaveOpen: true);
                    while (Guard(() => spooled.File.Position < spooled.File.Length ? Read(reader) : null) is { } change)
                    {
                        yield return change;
                    }
                }
            }
            finally
            {
                _replaying--;
                ForgetRelationsWhenIdle();
            }
        }

        yield return new CommitChange(commit.CommitLsn, commit.EndLsn, commit.CommitTime);
    }

    public void Dispose()
    {
        foreach (var spooled in _open.Values)
        {
            spooled.Dispose();
        }

        _open.Clear();
        try
        {
            if (Directory.Exists(_folder) && !Directory.EnumerateFileSystemEntries(_folder).Any())
            {
                Directory.Delete(_folder);
            }
        }
        catch (IOException)
        {
            // Another session's files, or the folder is in use: the next session removes it.
        }
    }

    private void Write(BinaryWriter w, Change change)
    {
        switch (change)
        {
            case InsertChange i:
                w.Write((byte)Kind.Insert);
                w.Write(Number(i.Relation));
                WriteRow(w, i.New);
                break;
            case UpdateChange u:
                w.Write((byte)Kind.Update);
                w.Write(Number(u.Relation));
                w.Write(u.Old is not null);
                if (u.Old is not null)
                {
                    WriteRow(w, u.Old);
                }

                w.Write(u.OldIsFullRow);
                WriteRow(w, u.New);
                break;
            case DeleteChange d:
                w.Write((byte)Kind.Delete);
                w.Write(Number(d.Relation));
                WriteRow(w, d.Old);
                w.Write(d.OldIsFullRow);
                break;
            case TruncateChange t:
                w.Write((byte)Kind.Truncate);
                w.Write(t.Relations.Count);
                foreach (var r in t.Relations)
                {
                    w.Write(Number(r));
                }

                w.Write(t.Cascade);
                w.Write(t.RestartIdentity);
                break;
            case MarkerChange m:
                w.Write((byte)Kind.Marker);
                w.Write(m.Content);
                break;
            default:
                throw new InvalidOperationException($"A streamed transaction carried a {change.GetType().Name}, which cannot be kept.");
        }
    }

    private Change Read(BinaryReader r) => (Kind)r.ReadByte() switch
    {
        Kind.Insert => new InsertChange(_relations[r.ReadInt32()], ReadRow(r)),
        Kind.Update => ReadUpdate(r),
        Kind.Delete => new DeleteChange(_relations[r.ReadInt32()], ReadRow(r), r.ReadBoolean()),
        Kind.Truncate => new TruncateChange(Enumerable.Range(0, r.ReadInt32()).Select(_ => _relations[r.ReadInt32()]).ToList(), r.ReadBoolean(), r.ReadBoolean()),
        Kind.Marker => new MarkerChange(r.ReadString()),
        var other => throw new InvalidDataException($"A kept transaction's file holds an unknown change kind {(byte)other}."),
    };

    private UpdateChange ReadUpdate(BinaryReader r)
    {
        var relation = _relations[r.ReadInt32()];
        var old = r.ReadBoolean() ? ReadRow(r) : null;
        return new UpdateChange(relation, old, r.ReadBoolean(), ReadRow(r));
    }

    /// <summary>
    /// With no file open or being read, no number names a description any more: the list starts again. The stream
    /// describes a table again after each VACUUM and ANALYZE of it, so a list kept for the whole follow would hold one
    /// for each of those met in a streamed transaction.
    /// </summary>
    private void ForgetRelationsWhenIdle()
    {
        if (_open.Count == 0 && _replaying == 0)
        {
            _relations.Clear();
            _relationNumbers.Clear();
        }
    }

    private int Number(SourceRelation relation)
    {
        if (!_relationNumbers.TryGetValue(relation, out var n))
        {
            n = _relationNumbers[relation] = _relations.Count;
            _relations.Add(relation);
        }

        return n;
    }

    private static void WriteRow(BinaryWriter w, RowValues row)
    {
        w.Write(row.Values.Length);
        for (var i = 0; i < row.Values.Length; i++)
        {
            if (row.Unchanged[i])
            {
                w.Write((byte)1);
            }
            else if (row.Values[i] is { } value)
            {
                w.Write((byte)2);
                w.Write(value);
            }
            else
            {
                w.Write((byte)0);
            }
        }
    }

    private static RowValues ReadRow(BinaryReader r)
    {
        var count = r.ReadInt32();
        var values = new string?[count];
        var unchanged = new bool[count];
        for (var i = 0; i < count; i++)
        {
            switch (r.ReadByte())
            {
                case 1:
                    unchanged[i] = true;
                    break;
                case 2:
                    values[i] = r.ReadString();
                    break;
            }
        }

        return new RowValues(values, unchanged);
    }

    /// <summary>A full disk or a folder that cannot be written stops the follow with what to do, not as a lost connection.</summary>
    private void Guard(Action action) => Guard(() =>
    {
        action();
        return true;
    });

    private T Guard<T>(Func<T> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PgRelocateException($"Follow stopped: a large transaction's changes could not be kept in {_folder} until its commit ({e.Message}). Free disk space there, then resume with 'pgrelocate migrate --resume ID'.", ExitCode.Failed, e);
        }
    }

    private enum Kind : byte
    {
        Insert = 1,
        Update,
        Delete,
        Truncate,
        Marker,
    }

    private sealed class Spooled(string path, FileStream file) : IDisposable
    {
        public FileStream File { get; } = file;

        public BinaryWriter Writer { get; } = new(file, System.Text.Encoding.UTF8, leaveOpen: true);

        /// <summary>The file position of each (sub)transaction's first change.</summary>
        public Dictionary<uint, long> Starts { get; } = [];

        public void Dispose()
        {
            Writer.Dispose();
            File.Dispose();
            System.IO.File.Delete(path);
        }
    }
}
