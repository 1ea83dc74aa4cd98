namespace PgRelocate.Preflight;

/// <summary>
/// The direct copy's rows and index builds played out as the copy schedules them (<c>Copy/DataPhase</c>,
/// <c>Copy/WorkGate</c>), on the estimate's measured rates: at most <c>slots</c> steps at once, of them at most
/// <c>jobs</c> moving rows and <c>indexJobs</c> building indexes; the rows' units largest first; a table's index
/// builds ready once its rows are in, its ANALYZE once its last index is built; a ready build takes the next free slot
/// before any rows. On cores both servers share, the steps running at once share them: a lane keeps two sessions busy
/// (the source's reader and the target's writer), an index build or an ANALYZE one, and each runs at
/// cores / sessions of its rate alone while they ask for more than there are. What this counts that adding the rows'
/// time to the indexes' did not: an early table's index builds beside a later table's rows (at pgbench scale 150 with
/// the events table, its GIN index beside <c>pgbench_accounts</c>' rows). The same play serves a restore that follows
/// the archive while pg_dump writes it (<c>Restore/ScheduledRestore</c>, migrate's dump + restore): given the dump
/// (its <c>feed</c>), a lane starts a table's rows once pg_dump starts writing them, and ends them no sooner than it does.
/// The direct copy's foreign keys between its tables (its <c>checks</c>) are checked once both tables are complete and
/// every table's rows are in, by the builder that completed the second or the next free one (<c>Copy/EarlyForeignKeys</c>),
/// one after another, before any build.
/// </summary>
internal static class CopySchedule
{
    /// <summary>The sessions a step keeps busy: a lane's reader and writer, a build's one, the dump's pg_dump and its source session.</summary>
    private const int LaneSessions = 2, BuildSessions = 1, DumpSessions = 2;

    private enum Step
    {
        Rows,
        Build,
        Analyze,
        Dump,
        Check,
    }

    /// <summary>
    /// How long the rows and the indexes of <paramref name="tables"/> take together, in seconds. Each table gives its rows'
    /// units (seconds of one lane alone each: one, or its page ranges where the copy splits it), its index builds
    /// (seconds of one builder alone each), its ANALYZE (seconds; 0: none) and its size on disk, indexes included, which
    /// orders the units as the copy does (largest first, a range at its share); <paramref name="cores"/> null: enough
    /// for every step at once. <paramref name="feed"/>: null, every table's rows ready at the start (the direct copy);
    /// else the dump a following restore reads, each table's in seconds alone, in the archive's order, one after
    /// another beside the steps and outside their slots: a table in it has its rows ready once its dump has started,
    /// in that order, and a lane that has moved them before its dump has ended waits for it, keeping its slot.
    /// <paramref name="checks"/>: foreign keys' checks (seconds alone each) between two of <paramref name="tables"/>
    /// (their indexes; -1: a table complete from the start, a small one), each made once both are complete.
    /// </summary>
    public static double Seconds(IReadOnlyList<(IReadOnlyList<double> Rows, IReadOnlyList<double> Indexes, double Analyze, long Bytes)> tables, int jobs, int indexJobs, int slots, int? cores, IReadOnlyList<(int Table, double Seconds)>? feed = null, IReadOnlyList<(int Referencing, int Referenced, double Seconds)>? checks = null)
    {
        ArgumentNullException.ThrowIfNull(tables);
        jobs = Math.Max(1, jobs);
        indexJobs = Math.Max(1, indexJobs);
        slots = Math.Max(1, slots);
        var fed = feed?.Select(f => f.Table).ToHashSet() ?? [];
        var rows = new Queue<(int Table, double Work)>(tables
            .SelectMany((t, i) => fed.Contains(i) ? [] : t.Rows.Where(w => w > 0).Select(w => (Table: i, Work: w, Order: t.Bytes / (double)t.Rows.Count)))
            .OrderByDescending(u => u.Order)
            .Select(u => (u.Table, u.Work)));
        var rowsLeft = tables.Select(t => t.Rows.Count(w => w > 0)).ToArray();
        var buildsLeft = tables.Select(t => t.Indexes.Count(w => w > 0)).ToArray();
        var builds = new Queue<(int Table, double Work, Step Kind)>();
        // The checks ready, by referencing table, taken before any build once every table's rows are in (parked until then).
        var made = new List<(int Table, double Work, Step Kind)>();
        var parked = new List<(int Table, double Work, Step Kind)>();
        var complete = new bool[tables.Count];
        var pending = checks?.Where(c => c.Seconds > 0).ToList() ?? [];
        var running = new List<(int Table, double Left, Step Kind)>();
        var dumped = 0;
        var dumpEnded = new HashSet<int>();
        // Lanes whose rows are in as far as pg_dump has written them: each waits for its table's dump to end.
        var waiting = new List<int>();
        var now = 0.0;

        // The checks between tables complete from the start, then a table with no rows to move has its builds ready at once.
        Complete(-1);
        for (var i = 0; i < tables.Count; i++)
        {
            if (rowsLeft[i] == 0)
            {
                Ready(i);
            }
        }

        while (true)
        {
            if (feed is not null && dumped < feed.Count && !running.Any(r => r.Kind == Step.Dump))
            {
                var table = feed[dumped++].Table;
                running.Add((table, feed[dumped - 1].Seconds, Step.Dump));
                foreach (var w in tables[table].Rows.Where(w => w > 0))
                {
                    rows.Enqueue((table, w));
                }
            }

            while (running.Count(r => r.Kind != Step.Dump) + waiting.Count < slots)
            {
                var lanes = running.Count(r => r.Kind == Step.Rows) + waiting.Count;
                if (made.Count + builds.Count > 0 && running.Count(r => r.Kind is Step.Build or Step.Analyze or Step.Check) < indexJobs)
                {
                    (int Table, double Work, Step Kind) b;
                    if (made.Count > 0)
                    {
                        b = made[0];
                        made.RemoveAt(0);
                    }
                    else
                    {
                        b = builds.Dequeue();
                    }

                    running.Add((b.Table, b.Work, b.Kind));
                }
                else if (rows.Count > 0 && lanes < jobs)
                {
                    var r = rows.Dequeue();
                    running.Add((r.Table, r.Work, Step.Rows));
                }
                else
                {
                    break;
                }
            }

            if (parked.Count > 0 && RowsAllIn())
            {
                parked.ForEach(p => Check(made, p.Table, p.Work));
                parked.Clear();
                continue;
            }

            if (running.Count == 0)
            {
                return now;
            }

            // Every step running moves at the same share of its rate alone: the one with the least work left ends first.
            var sessions = running.Sum(r => r.Kind switch { Step.Rows => LaneSessions, Step.Dump => DumpSessions, _ => BuildSessions });
            var speed = cores is { } c && sessions > c ? (double)c / sessions : 1;
            var least = running.Min(r => r.Left);
            now += least / speed;
            var ended = running.Where(r => r.Left <= least).ToList();
            running = [.. running.Where(r => r.Left > least).Select(r => r with { Left = r.Left - least })];
            foreach (var e in ended)
            {
                switch (e.Kind)
                {
                    case Step.Dump:
                        dumpEnded.Add(e.Table);
                        foreach (var _ in waiting.Where(w => w == e.Table).ToList())
                        {
                            waiting.Remove(e.Table);
                            RowsIn(e.Table);
                        }

                        break;
                    case Step.Rows when fed.Contains(e.Table) && !dumpEnded.Contains(e.Table):
                        waiting.Add(e.Table);
                        break;
                    case Step.Rows:
                        RowsIn(e.Table);
                        break;
                    case Step.Build when --buildsLeft[e.Table] == 0:
                        Analyzed(e.Table);
                        break;
                    case Step.Analyze:
                        Complete(e.Table);
                        break;
                }
            }
        }

        void RowsIn(int table)
        {
            if (--rowsLeft[table] == 0)
            {
                Ready(table);
            }
        }

        // A table's rows are in: its index builds are ready, or its ANALYZE where it has none.
        void Ready(int table)
        {
            foreach (var w in tables[table].Indexes.Where(w => w > 0))
            {
                builds.Enqueue((table, w, Step.Build));
            }

            if (buildsLeft[table] == 0)
            {
                Analyzed(table);
            }
        }

        // Its last index built: its ANALYZE, or, with none, it is complete.
        void Analyzed(int table)
        {
            if (tables[table].Analyze > 0)
            {
                builds.Enqueue((table, tables[table].Analyze, Step.Analyze));
            }
            else
            {
                Complete(table);
            }
        }

        // A table complete: the checks whose tables both are now, by referencing table.
        void Complete(int table)
        {
            if (table >= 0)
            {
                complete[table] = true;
            }

            var ready = pending.Where(c => (c.Referencing < 0 || complete[c.Referencing]) && (c.Referenced < 0 || complete[c.Referenced])).ToList();
            pending.RemoveAll(ready.Contains);
            foreach (var g in ready.GroupBy(c => c.Referencing))
            {
                Check(RowsAllIn() ? made : parked, g.Key, g.Sum(c => c.Seconds));
            }
        }

        // A referencing table's checks, one after another: added to those of it running or waiting (handed to that builder), else waiting.
        void Check(List<(int Table, double Work, Step Kind)> into, int referencing, double seconds)
        {
            var at = running.FindIndex(r => r.Kind == Step.Check && r.Table == referencing);
            if (at >= 0)
            {
                running[at] = running[at] with { Left = running[at].Left + seconds };
                return;
            }

            at = into.FindIndex(c => c.Table == referencing);
            if (at >= 0)
            {
                into[at] = into[at] with { Work = into[at].Work + seconds };
                return;
            }

            into.Add((referencing, seconds, Step.Check));
        }

        bool RowsAllIn() => rows.Count == 0 && waiting.Count == 0 && (feed is null || dumped == feed.Count) && !running.Any(r => r.Kind == Step.Rows);
    }
}
