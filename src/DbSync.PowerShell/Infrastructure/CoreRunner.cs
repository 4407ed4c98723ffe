using System.Collections.Concurrent;
using System.Management.Automation;

namespace DbSync.PowerShell.Infrastructure;

/// <summary>
/// Runs a Core operation on the thread pool while the pipeline thread waits and pumps its progress reports, so
/// every Write* call happens on the pipeline thread. One instance per cmdlet; <see cref="Stop"/> is called from
/// StopProcessing (Ctrl+C) and cancels the operation through its token.
/// </summary>
internal sealed class CoreRunner : IDisposable
{
    private readonly CancellationTokenSource _cancel = new();

    /// <summary>True once <see cref="Stop"/> was called.</summary>
    public bool Stopped => _cancel.IsCancellationRequested;

    /// <summary>Cancels the running operation; Core rolls back and releases its locks.</summary>
    public void Stop() => _cancel.Cancel();

    /// <summary>Runs <paramref name="operation"/> without progress.</summary>
    public T Run<T>(Func<CancellationToken, Task<T>> operation) =>
        Run<T, object>((_, token) => operation(token), null);

    /// <summary>
    /// Runs <paramref name="operation"/>, calling <paramref name="onProgress"/> on this (the pipeline) thread for
    /// each report. Returns when the operation has ended, whatever happened, so a stopped run has finished its
    /// rollback and released the file's lock before the pipeline unwinds. When <paramref name="onProgress"/> throws,
    /// the operation is cancelled and the exception passes on once it has ended.
    /// </summary>
    /// <exception cref="PipelineStoppedException">The pipeline was stopped (Ctrl+C) and the operation was cancelled.</exception>
    public T Run<T, TProgress>(Func<IProgress<TProgress>, CancellationToken, Task<T>> operation, Action<TProgress>? onProgress)
    {
        ArgumentNullException.ThrowIfNull(operation);
        var queue = new BlockingCollection<TProgress>();
        var progress = new QueueProgress<TProgress>(queue);
        var token = _cancel.Token;
        var task = Task.Run(() => operation(progress, token), CancellationToken.None);
        task.ContinueWith(_ => queue.CompleteAdding(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        try
        {
            foreach (var report in queue.GetConsumingEnumerable(CancellationToken.None))
            {
                onProgress?.Invoke(report);
            }

            return task.GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (Stopped)
        {
            throw new PipelineStoppedException();
        }
        finally
        {
            if (!task.IsCompleted)
            {
                // Left early: a Write* call threw. The pipeline is stopping (Ctrl+C), a downstream command has all it
                // wants (Select-Object -First), or -ErrorAction Stop made an error terminating. Nobody takes the
                // operation's output any more, and a watch would never end by itself: cancel it, and wait until Core
                // has rolled back and released the file.
                _cancel.Cancel();
                ((IAsyncResult)task).AsyncWaitHandle.WaitOne();
            }
        }
    }

    /// <inheritdoc />
    public void Dispose() => _cancel.Dispose();

    private sealed class QueueProgress<TProgress>(BlockingCollection<TProgress> queue) : IProgress<TProgress>
    {
        public void Report(TProgress value)
        {
            try
            {
                queue.TryAdd(value);
            }
            catch (InvalidOperationException)
            {
                // Reported after the operation ended: nobody is listening any more.
            }
        }
    }
}
