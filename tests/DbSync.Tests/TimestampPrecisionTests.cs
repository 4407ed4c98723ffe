using DbSync.Core;
using DbSync.Core.Diagnostics;
using DbSync.Tests.Infrastructure;

namespace DbSync.Tests;

/// <summary>
/// An existing target column an administrator declared <c>timestamp(p)</c> or <c>timestamptz(p)</c>: PostgreSQL rounds
/// a value with more fractional digits of a second, so such a row is held back as a numeric of too small a scale is.
/// </summary>
public sealed class TimestampPrecisionTests : IDisposable
{
    private readonly SyncFixture _fixture = new();
    private readonly SyncEngine _engine = new();

    public void Dispose() => _fixture.Dispose();

    private string Table => $"\"{_fixture.Schema}\".t";

    [Fact]
    public async Task A_value_finer_than_a_timestamp_columns_precision_is_held_back_not_rounded_and_test_names_it()
    {
        // 23:59:59.6 went into timestamp(0) as the next day's 00:00:00, and .123 into timestamptz(2) as .12; the run
        // Succeeded and no later run noticed (target exploration, F11).
        var path = _fixture.CreateDatabase("""
            CREATE TABLE t (id INTEGER PRIMARY KEY, ts DATETIME, tz TIMESTAMPTZ);
            INSERT INTO t VALUES (1, '2024-12-01 23:59:59.6', '2024-12-01 10:00:00.12+00:00');
            INSERT INTO t VALUES (2, '2024-12-01 10:00:00', '2024-12-01 10:00:00.123+00:00');
            INSERT INTO t VALUES (3, '2024-12-01 11:00:00', '2024-12-01 11:00:00.5Z');
            """);
        _fixture.PgExecute($"""
            CREATE SCHEMA "{_fixture.Schema}";
            CREATE TABLE {Table} (id bigint PRIMARY KEY, ts timestamp(0), tz timestamptz(2));
            """);

        var checks = await _engine.TestAsync(new ConnectionTestRequest { Path = path, ConnectionString = TestServer.ConnectionString, Schema = _fixture.Schema });
        var values = Assert.Single(checks, c => c.Name == "Source.ValueTypes");
        Assert.Equal(CheckStatus.Warning, values.Status);
        Assert.Contains("t.ts (timestamp(0) without time zone): 1 value(s)", values.Message, StringComparison.Ordinal);
        Assert.Contains("t.tz (timestamp(2) with time zone): 1 value(s)", values.Message, StringComparison.Ordinal);

        var first = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.PartiallySucceeded, 1L, 2L), (first.Status, first.Inserted, first.Quarantined));
        var held = (await _engine.GetQuarantineAsync(new QuarantineQuery { Path = path })).OrderBy(h => h.Key, StringComparer.Ordinal).ToList();
        Assert.Equal(["(id=1)", "(id=2)"], held.Select(h => h.Key));
        Assert.Contains("column 'ts'", held[0].Reason, StringComparison.Ordinal);
        Assert.Contains("'2024-12-01 23:59:59.6'", held[0].Reason, StringComparison.Ordinal);
        Assert.Contains("timestamp(0) without time zone", held[0].Reason, StringComparison.Ordinal);
        Assert.Contains("column 'tz'", held[1].Reason, StringComparison.Ordinal);
        Assert.Contains("timestamp(2) with time zone", held[1].Reason, StringComparison.Ordinal);
        Assert.Equal(0, _fixture.PgScalar($"SELECT count(*) FROM {Table} WHERE id <> 3"));

        // A push of a finer value is held back too; PostgreSQL keeps the row as it was.
        SyncFixture.Execute(path, "UPDATE t SET ts = '2025-01-01 08:00:00.7' WHERE id = 3");
        var push = await _fixture.SyncAsync(path);
        Assert.Equal((SyncStatus.PartiallySucceeded, 0L, 3L), (push.Status, push.Updated, push.Quarantined));
        Assert.Equal("2024-12-01 11:00:00", _fixture.PgText($"SELECT ts::text FROM {Table} WHERE id = 3"));

        // Values the columns hold exactly go through.
        SyncFixture.Execute(path, """
            UPDATE t SET ts = '2024-12-01 23:59:59' WHERE id = 1;
            UPDATE t SET tz = '2024-12-01 10:00:00.12Z' WHERE id = 2;
            UPDATE t SET ts = '2025-01-01 08:00:00' WHERE id = 3;
            """);
        var healed = await _fixture.SyncAsync(path);
        Assert.Equal((SyncStatus.Succeeded, 0L), (healed.Status, healed.Quarantined));
        Assert.Equal("2024-12-01 23:59:59|2025-01-01 08:00:00", _fixture.PgText($"SELECT string_agg(ts::text, '|' ORDER BY id) FROM {Table} WHERE id IN (1, 3)"));
        Assert.Equal(0.12, Convert.ToDouble(_fixture.PgText($"SELECT (extract(microseconds FROM tz) / 1e6)::text FROM {Table} WHERE id = 2"), System.Globalization.CultureInfo.InvariantCulture), 6);
    }
}
