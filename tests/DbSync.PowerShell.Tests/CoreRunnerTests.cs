using DbSync.PowerShell.Infrastructure;

namespace DbSync.PowerShell.Tests;

/// <summary>
/// The runner behind every cmdlet: a Write* call that throws on the pipeline thread (Select-Object -First stopping
/// the pipeline upstream, -ErrorAction Stop turning an error terminating) must end the Core operation, which for
/// Start-DbSync -Continuous would otherwise run for ever while the cmdlet waits for it.
/// </summary>
public sealed class CoreRunnerTests
{
    private sealed class DownstreamHasEnough : Exception;

    [Fact]
    public async Task A_throwing_progress_callback_cancels_an_endless_operation_and_passes_the_exception_on_once_it_ended()
    {
        using var runner = new CoreRunner();
        var ended = false;
        var task = Task.Run(() => Assert.Throws<DownstreamHasEnough>(() => runner.Run<bool, int>(async (progress, token) =>
        {
            try
            {
                for (var i = 0; ; i++)
                {
                    progress.Report(i);
                    await Task.Delay(10, token);
                }
            }
            finally
            {
                // Like Core: cleans up after the cancellation before the task ends.
                await Task.Delay(200, CancellationToken.None);
                ended = true;
            }
        }, report =>
        {
            if (report == 2)
            {
                throw new DownstreamHasEnough();
            }
        })));

        Assert.True(await Task.WhenAny(task, Task.Delay(TimeSpan.FromSeconds(30))) == task, "the runner still waits for an operation nobody cancelled");
        await task;
        Assert.True(ended, "the runner returned before the operation had cleaned up");
        Assert.True(runner.Stopped);
    }

    [Fact]
    public void An_operation_that_ends_returns_its_result_after_every_report_was_handled()
    {
        using var runner = new CoreRunner();
        var seen = new List<int>();

        var result = runner.Run<string, int>(async (progress, token) =>
        {
            for (var i = 0; i < 5; i++)
            {
                progress.Report(i);
                await Task.Yield();
            }

            return "done";
        }, seen.Add);

        Assert.Equal("done", result);
        Assert.Equal([0, 1, 2, 3, 4], seen);
        Assert.False(runner.Stopped);
    }
}
