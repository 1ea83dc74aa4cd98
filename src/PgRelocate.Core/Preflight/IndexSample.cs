namespace PgRelocate.Preflight;

/// <summary>The estimate's B-tree build on the target: rows per second, and bytes of index per second (null where its size could not be read).</summary>
internal sealed record IndexSample(double RowsPerSecond, double? BytesPerSecond);
