using System.Globalization;
using Npgsql;

namespace DbSync.Bench;

/// <summary>
/// Loads the inventory with pgloader, the usual tool for this job, into a database of its own. pgloader failing
/// is a finding, not an error: the outcome then says why.
/// </summary>
internal sealed class PgloaderRunner(BenchContext context)
{
    /// <summary>pgloader's version line, once it was found.</summary>
    public string Version { get; private set; } = "(not installed)";

    public async Task<Outcome> LoadAsync(string sqlitePath, string database, InventorySize size, CancellationToken cancellationToken)
    {
        var missing = await EnsureInstalledAsync(cancellationToken);
        if (missing is not null)
        {
            return Outcome.Failed(missing);
        }

        var version = await ProcessRunner.RunAsync("pgloader", ["--version"], TimeSpan.FromMinutes(1), cancellationToken);
        Version = version.StandardOutput.Split('\n')[0].Replace("pgloader version", "", StringComparison.Ordinal).Trim().Trim('"');

        await context.Server.ExecuteAsync($"DROP DATABASE IF EXISTS {database} WITH (FORCE)", cancellationToken);
        await context.Server.ExecuteAsync($"CREATE DATABASE {database}", cancellationToken);
        try
        {
            var builder = new NpgsqlConnectionStringBuilder(context.ConnectionString) { Database = database };
            var target = string.Create(CultureInfo.InvariantCulture,
                $"pgsql://{Uri.EscapeDataString(builder.Username ?? "postgres")}@{builder.Host}:{builder.Port}/{database}?sslmode=disable");
            // Ten minutes at full size is many times what a working pgloader needs; never less than two.
            var timeout = TimeSpan.FromMinutes(Math.Max(2, 10 * context.Options.Scale));
            var run = await ProcessRunner.RunAsync("pgloader", [$"sqlite://{sqlitePath}", target], timeout, cancellationToken,
                new Dictionary<string, string> { ["PGPASSWORD"] = builder.Password ?? "" });
            if (run.TimedOut || run.ExitCode != 0)
            {
                var output = run.StandardOutput + run.StandardError;
                var reason = output.Contains("Heap exhausted", StringComparison.Ordinal) ? "ran out of heap" : run.Describe();
                return Outcome.Failed($"failed: {reason}");
            }

            await using var connection = new NpgsqlConnection(builder.ConnectionString);
            await connection.OpenAsync(cancellationToken);
            long rows = 0;
            foreach (var table in Inventory.Tables)
            {
                var exists = await Pg.ScalarAsync<bool>(connection, $"SELECT to_regclass('{table.Name}') IS NOT NULL", cancellationToken);
                rows += exists ? await Pg.CountAsync(connection, table.Name, cancellationToken) : 0;
            }

            return rows == size.Total
                ? Outcome.Of(rows, run.Elapsed)
                : Outcome.Failed($"failed: exited 0 but loaded {rows:N0} of {size.Total:N0} rows");
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await context.Server.ExecuteAsync($"DROP DATABASE IF EXISTS {database} WITH (FORCE)", CancellationToken.None);
        }
    }

    /// <summary>Installs pgloader from the distribution when missing (as root); returns why it is unavailable, or null.</summary>
    private async Task<string?> EnsureInstalledAsync(CancellationToken cancellationToken)
    {
        if (ProcessRunner.IsOnPath("pgloader"))
        {
            return null;
        }

        if (!ProcessRunner.IsOnPath("apt-get") || Environment.UserName != "root")
        {
            return "failed: pgloader is not installed (apt-get install -y pgloader)";
        }

        context.Log("pgloader is missing: apt-get install -y pgloader");
        var install = await ProcessRunner.RunAsync("apt-get", ["install", "-y", "pgloader"], TimeSpan.FromMinutes(5), cancellationToken);
        if (install.ExitCode != 0)
        {
            // A fresh machine has no package lists yet ("Unable to locate package"): fetch them and try once more.
            context.Log("apt-get install failed; apt-get update, then again");
            var update = await ProcessRunner.RunAsync("apt-get", ["update"], TimeSpan.FromMinutes(5), cancellationToken);
            if (update.ExitCode != 0)
            {
                return $"failed: pgloader is not installed, apt-get install -y pgloader failed ({install.Describe()}) and so did apt-get update: {update.Describe()}";
            }

            install = await ProcessRunner.RunAsync("apt-get", ["install", "-y", "pgloader"], TimeSpan.FromMinutes(5), cancellationToken);
        }

        return install.ExitCode == 0 && ProcessRunner.IsOnPath("pgloader")
            ? null
            : $"failed: pgloader is not installed and apt-get install -y pgloader failed: {install.Describe()}";
    }
}
