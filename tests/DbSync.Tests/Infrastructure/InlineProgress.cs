namespace DbSync.Tests.Infrastructure;

/// <summary>Reports on the caller's thread, at once: tests act on a report before the run goes on.</summary>
public sealed class InlineProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
