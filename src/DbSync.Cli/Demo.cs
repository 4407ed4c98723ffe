using System.Diagnostics;
using System.Text.Json.Nodes;
using DbSync.Core;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace DbSync.Cli;

/// <summary>
/// <c>dbsync demo</c>: builds a small shop database, starts a throwaway PostgreSQL when no connection string is
/// given (with the same script the tests use), syncs, changes rows, syncs again and shows what reached PostgreSQL.
/// </summary>
internal static class Demo
{
    public static async Task<int> RunAsync(string? connection, bool json, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        var work = Directory.CreateTempSubdirectory("dbsync-demo-");
        string? serverDir = null;
        try
        {
            if (string.IsNullOrWhiteSpace(connection))
            {
                serverDir = Path.Combine(work.FullName, "pg");
                stderr.WriteLine("No connection string given: starting a throwaway PostgreSQL server...");
                connection = await StartServerAsync(work.FullName, serverDir, cancellationToken).ConfigureAwait(false);
            }

            var database = Path.Combine(work.FullName, "shop.sqlite");
            CreateSample(database);
            var schema = "dbsync_demo_" + DateTime.UtcNow.ToString("yyyyMMddHHmmss", System.Globalization.CultureInfo.InvariantCulture);
            var engine = new SyncEngine();
            var request = new SyncRequest { Path = database, ConnectionString = connection, Schema = schema };

            Say(stdout, json, $"1. Sample database {database}: customers, products, orders, order_items. First sync (initial load into schema '{schema}'):");
            var first = await engine.SyncAsync(request, null, cancellationToken).ConfigureAwait(false);
            Show(first, stdout, json);
            foreach (var warning in first.Warnings)
            {
                stderr.WriteLine($"   warning: {warning}");
            }

            Say(stdout, json, "2. Another program changes the file: 3 new orders, 5 price changes, 1 customer renumbered, 2 order lines deleted.");
            ChangeSample(database);

            Say(stdout, json, "3. Second sync pushes only what changed:");
            var second = await engine.SyncAsync(request, null, cancellationToken).ConfigureAwait(false);
            Show(second, stdout, json);

            var counts = await CountAsync(connection, schema, cancellationToken).ConfigureAwait(false);
            Say(stdout, json, $"4. PostgreSQL now holds: {string.Join(", ", counts.Select(c => $"{c.Key} {c.Value}"))} rows, the same as the file.");
            return first.Status == SyncStatus.Succeeded && second.Status == SyncStatus.Succeeded ? CliApp.Success : CliApp.Partial;
        }
        finally
        {
            if (serverDir is not null)
            {
                await RunScriptAsync(work.FullName, ["stop", serverDir], CancellationToken.None).ConfigureAwait(false);
            }

            try
            {
                work.Delete(recursive: true);
            }
            catch (IOException)
            {
                // A temp folder left behind is harmless.
            }
        }
    }

    private static void Say(TextWriter stdout, bool json, string text)
    {
        if (!json)
        {
            stdout.WriteLine(text);
        }
    }

    private static void Show(SyncResult result, TextWriter stdout, bool json)
    {
        if (json)
        {
            stdout.WriteLine(CliApp.ToJson(result).ToJsonString(CliApp.JsonOptions));
            return;
        }

        stdout.WriteLine($"   {result.Status}: {result.Inserted} inserted, {result.Updated} updated, {result.Deleted} deleted in {result.Duration.TotalMilliseconds:0} ms");
        foreach (var table in result.Tables)
        {
            stdout.WriteLine($"     {table.Name,-12} -> {table.Target,-40} {table.Mode,-11} +{table.Inserted} ~{table.Updated} -{table.Deleted}");
        }
    }

    private static async Task<string> StartServerAsync(string work, string serverDir, CancellationToken cancellationToken)
    {
        var output = await RunScriptAsync(work, ["start", serverDir], cancellationToken).ConfigureAwait(false);
        var line = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
        return line is not null && line.StartsWith("Host=", StringComparison.Ordinal)
            ? line
            : throw new DbSyncException(ErrorIds.TargetUnreachable, DbSyncErrorCategory.ConnectionError,
                "Could not start a throwaway PostgreSQL server (are the PostgreSQL server binaries installed?). Give --connection instead.");
    }

    private static async Task<string> RunScriptAsync(string work, string[] arguments, CancellationToken cancellationToken)
    {
        var script = Path.Combine(work, "test-postgres.sh");
        if (!File.Exists(script))
        {
            await using var resource = typeof(Demo).Assembly.GetManifestResourceStream("test-postgres.sh")
                ?? throw new InvalidOperationException("test-postgres.sh is not embedded.");
            await using var file = File.Create(script);
            await resource.CopyToAsync(file, cancellationToken).ConfigureAwait(false);
        }

        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(script);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("bash could not be started.");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            throw new DbSyncException(ErrorIds.TargetUnreachable, DbSyncErrorCategory.ConnectionError,
                $"The throwaway PostgreSQL server could not be started: {(await stderr.ConfigureAwait(false)).Trim()}");
        }

        return await stdout.ConfigureAwait(false);
    }

    private static void CreateSample(string path)
    {
        using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        using var transaction = connection.BeginTransaction();
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT, created DATETIME NOT NULL);
            CREATE TABLE products (sku TEXT PRIMARY KEY, title TEXT NOT NULL, price NUMERIC(10,2) NOT NULL, weight REAL, picture BLOB);
            CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id), placed DATETIME NOT NULL, paid BOOLEAN NOT NULL);
            CREATE TABLE order_items (order_id INTEGER NOT NULL REFERENCES orders(id), line INTEGER NOT NULL, sku TEXT NOT NULL REFERENCES products(sku),
                quantity INTEGER NOT NULL, PRIMARY KEY (order_id, line));
            CREATE TABLE notes (text TEXT);
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)
            INSERT INTO customers SELECT i, 'Customer ' || i, 'c' || i || '@example.com', datetime('2024-01-01', '+' || i || ' hours') FROM n;
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50)
            INSERT INTO products SELECT printf('SKU-%03d', i), 'Product ' || i, round(i * 1.25, 2), i * 0.1, randomblob(16) FROM n;
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)
            INSERT INTO orders SELECT i, 1 + i % 200, datetime('2024-02-01', '+' || i || ' minutes'), i % 3 = 0 FROM n;
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500)
            INSERT INTO order_items SELECT 1 + (i - 1) / 3, 1 + (i - 1) % 3, printf('SKU-%03d', 1 + i % 50), 1 + i % 4 FROM n;
            INSERT INTO notes VALUES ('a table without a primary key is reported and skipped');
            """;
        command.ExecuteNonQuery();
        transaction.Commit();
    }

    private static void ChangeSample(string path)
    {
        using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = """
            BEGIN;
            PRAGMA defer_foreign_keys = ON;
            INSERT INTO orders VALUES (501, 7, datetime('now'), 0), (502, 8, datetime('now'), 1), (503, 9, datetime('now'), 0);
            INSERT INTO order_items VALUES (501, 1, 'SKU-001', 2), (502, 1, 'SKU-002', 1), (503, 1, 'SKU-003', 5);
            UPDATE products SET price = price + 1 WHERE sku IN ('SKU-001', 'SKU-002', 'SKU-003', 'SKU-004', 'SKU-005');
            UPDATE customers SET id = 1000 WHERE id = 200;
            UPDATE orders SET customer_id = 1000 WHERE customer_id = 200;
            DELETE FROM order_items WHERE order_id = 1 AND line IN (2, 3);
            COMMIT;
            """;
        command.ExecuteNonQuery();
    }

    private static async Task<Dictionary<string, long>> CountAsync(string connection, string schema, CancellationToken cancellationToken)
    {
        var builder = new NpgsqlConnectionStringBuilder(connection) { Pooling = false };
        var pg = new NpgsqlConnection(builder.ConnectionString);
        await using var scope = pg.ConfigureAwait(false);
        await pg.OpenAsync(cancellationToken).ConfigureAwait(false);
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var table in new[] { "customers", "products", "orders", "order_items" })
        {
            using var command = new NpgsqlCommand($"SELECT count(*) FROM {Identifiers.Quote(schema, table)}", pg);
            counts[table] = (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        }

        return counts;
    }
}
