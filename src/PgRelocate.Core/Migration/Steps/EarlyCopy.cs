using PgRelocate.Copy;

namespace PgRelocate.Migration.Steps;

/// <summary>
/// A copy's start (<see cref="CopyRunner.StartAsync"/>) running beside the migration's checks, handed from the check
/// step to the copy step (see <see cref="DirectCopyStep.StartBesideChecks"/>). Disposed without being taken (the
/// checks refused, or the migration stopped), it stops the start and lets go of what it opened.
/// </summary>
internal sealed class EarlyCopy : IAsyncDisposable
{
    private readonly CancellationTokenSource _cancel;
    private readonly Task<CopyStart> _starting;
    private bool _taken;

    public EarlyCopy(CopyRunner runner, CopyOptions options, CancellationToken cancellationToken)
    {
        _cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _starting = runner.StartAsync(options, _cancel.Token);
    }

    /// <summary>The start once it has read and checked everything, now the caller's to finish and dispose; its failure is the copy's.</summary>
    public async Task<CopyStart> TakeAsync()
    {
        var start = await _starting;
        _taken = true;
        return start;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_taken)
        {
            await _cancel.CancelAsync();
            // Whatever the start failed with, its owner never asked for it: only what it opened matters now.
            await _starting.ContinueWith(t => _ = t.Exception, TaskScheduler.Default);
            if (_starting.IsCompletedSuccessfully)
            {
                await _starting.Result.DisposeAsync();
            }
        }

        _cancel.Dispose();
    }
}
