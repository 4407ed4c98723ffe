using DbSync.Core;
using Npgsql;

namespace DbSync.Bench;

/// <summary>
/// The PostgreSQL server the benchmark runs against: the one named by DBSYNC_TEST_PG, or a throwaway cluster
/// started with scripts/test-postgres.sh and stopped (and removed) on dispose.
/// </summary>
internal sealed class PostgresServer : IAsyncDisposable
{
    public const string EnvironmentVariable = "DBSYNC_TEST_PG";

    private readonly string? _script;
    private readonly string? _clusterDir;

    private PostgresServer(string connectionString, string? script, string? clusterDir, string version, string? ownDatabase = null)
    {
        ConnectionString = connectionString;
        _script = script;
        _clusterDir = clusterDir;
        Version = version;
        _ownDatabase = ownDatabase;
    }

    /// <summary>The database the benchmark created on a given server for its run, dropped at the end; null when it works in the given one.</summary>
    private readonly string? _ownDatabase;

    public string ConnectionString { get; }

    /// <summary>The server's version, e.g. "15.14 (Debian 15.14-0+deb12u1)".</summary>
    public string Version { get; }

    /// <summary>How the server was obtained, for the report.</summary>
    public string Origin => _clusterDir is null
        ? $"given by {EnvironmentVariable}{(_ownDatabase is null ? "" : ", in a database of the run's own")}"
        : "throwaway cluster from scripts/test-postgres.sh (fsync=off, synchronous_commit=off, full_page_writes=off, shared_buffers=256MB)";

    public static async Task<PostgresServer> StartAsync(string repoRoot, string workDir, CancellationToken cancellationToken)
    {
        var given = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(given))
        {
            // A database of its own when the role may create one: nothing of the run lands in the given database, and
            // no other session there keeps the push scenario from copying its database.
            var own = $"dbsync_bench_{Environment.ProcessId}";
            try
            {
                await using var connection = new NpgsqlConnection(given);
                await connection.OpenAsync(cancellationToken);
                await Pg.ExecuteAsync(connection, $"CREATE DATABASE {Identifiers.Quote(own)}", cancellationToken);
                var ownConnection = new NpgsqlConnectionStringBuilder(given) { Database = own }.ConnectionString;
                return new PostgresServer(ownConnection, null, null, await ReadVersionAsync(ownConnection, cancellationToken), own);
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.InsufficientPrivilege)
            {
                return new PostgresServer(given, null, null, await ReadVersionAsync(given, cancellationToken));
            }
        }

        var script = Path.Combine(repoRoot, "scripts", "test-postgres.sh");
        var clusterDir = Path.Combine(workDir, "pg");
        var start = await ProcessRunner.RunAsync("bash", [script, "start", clusterDir], TimeSpan.FromMinutes(2), cancellationToken);
        try
        {
            if (start.ExitCode != 0)
            {
                throw new InvalidOperationException($"scripts/test-postgres.sh start failed: {start.Describe()}");
            }

            var connectionString = start.StandardOutput.Trim();
            return new PostgresServer(connectionString, script, clusterDir, await ReadVersionAsync(connectionString, cancellationToken));
        }
        catch
        {
            await StopAsync(script, clusterDir);
            throw;
        }
    }

    public NpgsqlConnection Open()
    {
        var connection = new NpgsqlConnection(ConnectionString);
        connection.Open();
        return connection;
    }

    /// <summary>Runs one statement with no timeout.</summary>
    public async Task ExecuteAsync(string sql, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 0 };
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// Before a timed part: vacuums and analyzes the tables a previous part loaded (<paramref name="schemas"/>), waits
    /// for autovacuum workers to finish, forces a checkpoint and flushes written files to disk, so that no background
    /// work left by one part (the autovacuum of a freshly loaded table, the checkpoint writing its pages, the kernel
    /// writing back a generated file) runs during the next one's timing.
    /// </summary>
    public async Task QuiesceAsync(CancellationToken cancellationToken, params string[] schemas)
    {
        await using var connection = Open();
        foreach (var schema in schemas)
        {
            var tables = new List<string>();
            await using (var list = new NpgsqlCommand("SELECT format('%I.%I', schemaname, tablename) FROM pg_tables WHERE schemaname = $1", connection))
            {
                list.Parameters.AddWithValue(schema);
                await using var reader = await list.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    tables.Add(reader.GetString(0));
                }
            }

            foreach (var table in tables)
            {
                await Pg.ExecuteAsync(connection, $"VACUUM (ANALYZE) {table}", cancellationToken);
            }
        }

        // Files the previous part wrote (a generated database, its copy) still being written back to disk would slow
        // whatever runs next; sync(1) waits for that.
        if (ProcessRunner.IsOnPath("sync"))
        {
            await ProcessRunner.RunAsync("sync", [], TimeSpan.FromMinutes(2), cancellationToken);
        }

        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (DateTime.UtcNow < deadline
            && await Pg.ScalarAsync<long>(connection, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'", cancellationToken) > 0)
        {
            await Task.Delay(250, cancellationToken);
        }

        try
        {
            await Pg.ExecuteAsync(connection, "CHECKPOINT", cancellationToken);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            // A server given by DBSYNC_TEST_PG to a role that may not checkpoint: its checkpoints run on their own schedule.
        }
    }

    /// <summary>
    /// Copies the benchmark's database, as it is now, into a new database <paramref name="name"/> (replacing one left
    /// by an interrupted run); returns its connection string, or why it could not (the role may not create databases,
    /// or another session is connected to the database, which CREATE DATABASE … TEMPLATE refuses).
    /// </summary>
    public async Task<(string? ConnectionString, string? Failure)> CopyDatabaseAsync(string name, CancellationToken cancellationToken)
    {
        var source = new NpgsqlConnectionStringBuilder(ConnectionString);
        var target = new NpgsqlConnectionStringBuilder(ConnectionString) { Database = name };
        // The copy is made from another database: the source must have no session, this program's pooled ones included.
        var maintenance = new NpgsqlConnectionStringBuilder(ConnectionString) { Database = source.Database == "postgres" ? "template1" : "postgres" };
        NpgsqlConnection.ClearAllPools();
        try
        {
            await using var connection = new NpgsqlConnection(maintenance.ConnectionString);
            await connection.OpenAsync(cancellationToken);
            await DropAsync(connection, name, cancellationToken);
            await Pg.ExecuteAsync(connection, $"CREATE DATABASE {Identifiers.Quote(name)} TEMPLATE {Identifiers.Quote(source.Database ?? "postgres")} STRATEGY FILE_COPY",
                cancellationToken);
            return (target.ConnectionString, null);
        }
        catch (PostgresException ex)
        {
            return (null, $"could not copy database {source.Database} into {name}: {ex.SqlState}: {ex.MessageText}");
        }
    }

    /// <summary>Drops a database <see cref="CopyDatabaseAsync"/> made, closing this program's sessions to it first.</summary>
    public async Task DropDatabaseAsync(string name)
    {
        NpgsqlConnection.ClearAllPools();
        await using var connection = Open();
        await DropAsync(connection, name, CancellationToken.None);
    }

    /// <summary>Drops a database, ending any session still connected to it; from a connection to another database.</summary>
    private static Task DropAsync(NpgsqlConnection connection, string name, CancellationToken cancellationToken) =>
        Pg.ExecuteAsync(connection, $"DROP DATABASE IF EXISTS {Identifiers.Quote(name)} WITH (FORCE)", cancellationToken);

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (_ownDatabase is not null)
        {
            var given = Environment.GetEnvironmentVariable(EnvironmentVariable)!;
            await using var connection = new NpgsqlConnection(given);
            await connection.OpenAsync();
            await DropAsync(connection, _ownDatabase, CancellationToken.None);
        }

        if (_script is not null && _clusterDir is not null)
        {
            await StopAsync(_script, _clusterDir);
        }
    }

    private static async Task StopAsync(string script, string clusterDir)
    {
        var stop = await ProcessRunner.RunAsync("bash", [script, "stop", clusterDir], TimeSpan.FromMinutes(1), CancellationToken.None);
        if (stop.ExitCode != 0)
        {
            Console.Error.WriteLine($"warning: stopping the PostgreSQL cluster in {clusterDir} failed: {stop.Describe()}");
        }
    }

    private static async Task<string> ReadVersionAsync(string connectionString, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SHOW server_version", connection);
        return (string)(await command.ExecuteScalarAsync(cancellationToken))!;
    }
}
