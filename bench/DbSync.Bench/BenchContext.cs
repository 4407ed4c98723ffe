using System.Diagnostics;

namespace DbSync.Bench;

/// <summary>What every scenario needs: the options, a work folder deleted after the run, and PostgreSQL.</summary>
internal sealed class BenchContext(BenchOptions options, string workDir, PostgresServer server)
{
    /// <summary>The seed of every generated value: the same options always produce the same data.</summary>
    public const int Seed = 20_240_601;

    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public BenchOptions Options { get; } = options;

    public string WorkDir { get; } = workDir;

    public PostgresServer Server { get; } = server;

    public string ConnectionString => Server.ConnectionString;

    public string WorkFile(string name) => Path.Combine(WorkDir, name);

    /// <summary>Progress goes to standard error, so standard output carries only the results table.</summary>
    public void Log(string message) => Console.Error.WriteLine($"[{_clock.Elapsed.TotalSeconds,6:0.0} s] {message}");

    public Task DropSchemaAsync(string schema, CancellationToken cancellationToken) =>
        Server.ExecuteAsync($"DROP SCHEMA IF EXISTS {schema} CASCADE", cancellationToken);

}
