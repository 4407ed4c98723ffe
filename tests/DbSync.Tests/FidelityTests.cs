using System.Globalization;
using System.Text;
using DbSync.Core;
using DbSync.Tests.Infrastructure;

namespace DbSync.Tests;

/// <summary>
/// Data fidelity (docs/type-mapping.md): every value PostgreSQL can hold in the mapped type arrives identical, by
/// an expectation written here independently of DbSync's converter; every other value is refused by name and its row held back.
/// </summary>
public sealed class FidelityTests : IDisposable
{
    private static readonly byte[] _mebibyte = MakeBlob();
    private readonly SyncFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    private static byte[] MakeBlob()
    {
        var bytes = new byte[1 << 20];
        new Random(7).NextBytes(bytes);
        return bytes;
    }

    private static DateTime Utc(int y, int mo, int d, int h = 0, int mi = 0, int s = 0, int micros = 0) =>
        new DateTime(y, mo, d, h, mi, s, DateTimeKind.Unspecified).AddTicks(micros * 10L);

    /// <summary>(declared type, SQL expression stored by SQLite, the value PostgreSQL must return).</summary>
    private static readonly (string Declared, string Sql, object? Expected)[] _storable =
    [
        ("INTEGER", "9223372036854775807", long.MaxValue),
        ("INTEGER", "-9223372036854775808", long.MinValue),
        ("INTEGER", "'42'", 42L), // INTEGER affinity stores the text as an integer
        ("INTEGER", "3.0", 3L),
        ("INTEGER", "NULL", null),
        ("REAL", "9e999", double.PositiveInfinity),
        ("REAL", "-9e999", double.NegativeInfinity),
        ("REAL", "'NaN'", double.NaN), // SQLite cannot hold a NaN real; as text it is the number NaN
        ("REAL", "1e308", 1e308),
        ("REAL", "-1.7976931348623157e308", double.MinValue),
        ("REAL", "4.9406564584124654e-324", double.Epsilon),
        ("REAL", "0.1", 0.1),
        ("REAL", "'1.5e3'", 1500.0),
        ("REAL", "-0.0", 0.0), // SQLite itself stores an integral real as an integer: -0.0 is 0 in the file
        ("NUMERIC(12,4)", "12345678.1234", 12345678.1234m),
        ("NUMERIC(12,4)", "0.99", 0.99m),
        ("NUMERIC(12,4)", "'12.50'", 12.5m),
        ("NUMERIC(12,4)", "-0.0001", -0.0001m),
        ("NUMERIC(12,4)", "99999999", 99999999m),
        ("NUMERIC", "123456789012345678", 123456789012345678m),
        ("NUMERIC", "9223372036854775807", 9223372036854775807m),
        ("NUMERIC", "0.30000000000000004", 0.30000000000000004m),
        // SQLite's NUMERIC affinity turns an integer text beyond 64 bits into the nearest double; that double arrives.
        ("NUMERIC", "'12345678901234567890123456789'", 12345678901234568000000000000m),
        ("TEXT", "''", ""),
        ("TEXT", "NULL", null),
        ("TEXT", "'🎉👩‍👩‍👧'", "🎉👩‍👩‍👧"),
        ("TEXT", "'e' || char(769) || char(776)", "e\u0301\u0308"),
        ("TEXT", "'A' || char(778)", "A\u030A"),
        ("TEXT", "'Å'", "Å"),
        ("TEXT", "42", "42"),
        ("TEXT", "'  padded  '", "  padded  "),
        ("TEXT", "'line\r\nbreak\ttab'", "line\r\nbreak\ttab"),
        ("TEXT", "'\U0010FFFF'", "\U0010FFFF"),
        ("BLOB", "x''", Array.Empty<byte>()),
        ("BLOB", "x'00ff00'", new byte[] { 0, 255, 0 }),
        ("BLOB", "x'" + Convert.ToHexString(_mebibyte) + "'", _mebibyte),
        ("DATETIME", "'2024-03-01'", Utc(2024, 3, 1)),
        ("DATETIME", "'2024-03-01 10:11'", Utc(2024, 3, 1, 10, 11)),
        ("DATETIME", "'2024-03-01T10:11:12.123456'", Utc(2024, 3, 1, 10, 11, 12, 123456)),
        ("DATETIME", "'2024-03-01 10:11:12.120000000'", Utc(2024, 3, 1, 10, 11, 12, 120000)),
        ("DATETIME", "'2024-03-01 10:00:00+02:00'", Utc(2024, 3, 1, 8)),
        ("DATETIME", "'2024-03-01 10:00:00Z'", Utc(2024, 3, 1, 10)),
        ("DATETIME", "'2024-03-01 10:00:00-0530'", Utc(2024, 3, 1, 15, 30)),
        ("DATETIME", "'2024-03-01 00:30:00+01'", Utc(2024, 2, 29, 23, 30)),
        ("DATETIME", "'0001-01-01 00:00:00'", Utc(1, 1, 1)),
        ("DATETIME", "'9999-12-31 23:59:59.999999'", Utc(9999, 12, 31, 23, 59, 59, 999999)),
        ("DATETIME", "2460370.5", Utc(2024, 3, 1)), // julianday('2024-03-01')
        ("DATETIME", "2460370.75", Utc(2024, 3, 1, 6)),
        ("DATETIME", "2460370.9166666665", Utc(2024, 3, 1, 10)), // julianday('2024-03-01 10:00:00'), read as SQLite reads it
        ("DATETIME", "2460370.9166680905", Utc(2024, 3, 1, 10, 0, 0, 123000)), // julianday('2024-03-01 10:00:00.123')
        ("DATETIME", "1721425.5", Utc(1, 1, 1)), // the first day, as a Julian day and as Unix time
        ("DATETIME", "-62135596800", Utc(1, 1, 1)),
        ("DATETIME", "'2024-03-01 10:00:00+14:59'", Utc(2024, 2, 29, 19, 1)),
        ("DATETIME", "1709280000", Utc(2024, 3, 1, 8)), // unixepoch('2024-03-01 08:00:00')
        ("DATETIME", "0", Utc(1970, 1, 1)),
        ("DATETIME", "-86400", Utc(1969, 12, 31)),
        ("TIMESTAMPTZ", "'2024-03-01 10:00:00+02:00'", new DateTime(2024, 3, 1, 8, 0, 0, DateTimeKind.Utc)),
        ("TIMESTAMPTZ", "'2024-03-01 10:00:00'", new DateTime(2024, 3, 1, 10, 0, 0, DateTimeKind.Utc)),
        ("TIMESTAMPTZ", "1709280000", new DateTime(2024, 3, 1, 8, 0, 0, DateTimeKind.Utc)),
        ("DATE", "'2024-02-29'", new DateOnly(2024, 2, 29)),
        ("DATE", "'2024-02-29 00:00:00'", new DateOnly(2024, 2, 29)),
        ("DATE", "1709164800", new DateOnly(2024, 2, 29)),
        ("DATE", "2460369.5", new DateOnly(2024, 2, 29)),
        ("DATE", "'0001-01-01'", DateOnly.MinValue), // Npgsql's own writer would send these two as -infinity/infinity
        ("DATE", "'9999-12-31'", DateOnly.MaxValue),
        ("BOOLEAN", "1", true),
        ("BOOLEAN", "'f'", false),
        ("BOOLEAN", "'TRUE'", true),
        ("", "-0.0", "-0"), // untyped: no affinity, so the real -0.0 is kept, and becomes its text
        ("", "42", "42"),
        ("", "'42'", "42"),
        ("", "1e308", "1E+308"),
        ("", "0.1", "0.1"),
    ];

    [Fact]
    public async Task Every_storable_value_arrives_identical_by_a_canonical_comparison()
    {
        var tables = _storable.Select(v => v.Declared).Distinct().Select((d, i) => (Declared: d, Table: "v" + i.ToString(CultureInfo.InvariantCulture))).ToList();
        var sql = new StringBuilder();
        foreach (var (declared, table) in tables)
        {
            sql.Append(CultureInfo.InvariantCulture, $"CREATE TABLE {table} (id INTEGER PRIMARY KEY, v {declared});\n");
        }

        for (var i = 0; i < _storable.Length; i++)
        {
            var table = tables.Single(t => t.Declared == _storable[i].Declared).Table;
            sql.Append(CultureInfo.InvariantCulture, $"INSERT INTO {table} VALUES ({i}, {_storable[i].Sql});\n");
        }

        var path = _fixture.CreateDatabase(sql.ToString());
        // What SQLite itself holds for the REAL -0.0: positive zero (an integral real is stored as an integer).
        using (var sqlite = SyncFixture.OpenSqlite(path))
        using (var command = sqlite.CreateCommand())
        {
            command.CommandText = $"SELECT v FROM {tables.Single(t => t.Declared == "REAL").Table} WHERE id = {Array.FindIndex(_storable, v => v is ("REAL", "-0.0", _))}";
            Assert.Equal(0L, BitConverter.DoubleToInt64Bits((double)command.ExecuteScalar()!));
        }

        var result = await _fixture.SyncAsync(path);
        Assert.Equal(SyncStatus.Succeeded, result.Status);

        var differences = new List<string>();
        using var pg = TestServer.Open();
        foreach (var (declared, table) in tables)
        {
            using var command = new Npgsql.NpgsqlCommand($"SELECT id, v, v::text FROM \"{_fixture.Schema}\".{table}", pg);
            using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                var (_, literal, expected) = _storable[reader.GetInt64(0)];
                object? actual = reader.IsDBNull(1) ? null
                    : reader.GetDataTypeName(1) == "date" ? reader.GetFieldValue<DateOnly>(1)
                    : reader.GetValue(1);
                // Npgsql reads PostgreSQL's -infinity back as DateTime.MinValue: the text shows what the server holds.
                if (!Same(expected, actual) || (expected is DateTime or DateOnly && reader.GetString(2).Contains("infinity", StringComparison.Ordinal)))
                {
                    differences.Add($"{declared} {literal}: expected {Show(expected)}, got {Show(actual)} ('{reader.GetString(2)}' in PostgreSQL)");
                }
            }
        }

        Assert.True(differences.Count == 0, string.Join("\n", differences));
        Assert.Equal(_storable.Length, tables.Sum(t => _fixture.PgScalar($"SELECT count(*) FROM \"{_fixture.Schema}\".{t.Table}")));
    }

    private static bool Same(object? expected, object? actual) => (expected, actual) switch
    {
        (null, null) => true,
        (double e, double a) => BitConverter.DoubleToInt64Bits(e) == BitConverter.DoubleToInt64Bits(a),
        (decimal e, decimal a) => e == a,
        (long e, long a) => e == a,
        (string e, string a) => Encoding.UTF8.GetBytes(e).AsSpan().SequenceEqual(Encoding.UTF8.GetBytes(a)),
        (byte[] e, byte[] a) => e.AsSpan().SequenceEqual(a),
        (DateTime e, DateTime a) => e.Ticks == a.Ticks && (e.Kind != DateTimeKind.Utc || a.Kind == DateTimeKind.Utc),
        (DateOnly e, DateOnly a) => e == a,
        (bool e, bool a) => e == a,
        _ => false,
    };

    private static string Show(object? value) => value switch
    {
        null => "NULL",
        double d => d.ToString("R", CultureInfo.InvariantCulture) + $" (bits {BitConverter.DoubleToInt64Bits(d):X16})",
        byte[] b => $"{b.Length} bytes",
        DateTime t => t.ToString("O", CultureInfo.InvariantCulture),
        string s => "'" + s + "' (" + Convert.ToHexString(Encoding.UTF8.GetBytes(s)) + ")",
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) + " (" + value.GetType().Name + ")",
    };

    public static TheoryData<string, string, string> NotStorable => new()
    {
        { "INTEGER", "'abc'", "is not an integer" },
        { "INTEGER", "2.5", "2.5" },
        { "INTEGER", "9223372036854775808", "" }, // SQLite turns it into a double beyond the 64-bit range
        { "INTEGER", "x'01'", "BLOB" },
        { "REAL", "'twelve'", "is not a number" },
        // .NET's parsers take trailing NUL characters for the end of the text: these arrived as 12, 1.5, 7 and 3.25.
        { "INTEGER", "'12' || char(0)", "is not an integer" },
        { "REAL", "'1.5' || char(0)", "is not a number" },
        { "NUMERIC", "'7' || char(0) || char(0)", "is not a number" },
        { "DECIMAL(10,2)", "'3.25' || char(0)", "is not a number" },
        { "REAL", "x'01'", "BLOB" },
        { "TEXT", "'a' || char(0) || 'b'", "NUL" },
        { "TEXT", "CAST(x'c328' AS TEXT)", "UTF-8" },
        { "TEXT", "CAST(x'ff' AS TEXT)", "UTF-8" },
        { "TEXT", "x'0102'", "BLOB" },
        { "NUMERIC(6,2)", "0.125", "decimal places" },
        { "NUMERIC(6,2)", "123456", "does not fit" },
        { "NUMERIC(10,2)", "1e-29", "more than 2 decimal places" }, // beyond System.Decimal's 28 places: checked all the same
        { "NUMERIC(10,2)", "1e30", "does not fit" },
        { "NUMERIC", "9e999", "Infinity" },
        { "NUMERIC", "'NaN'", "" },
        { "DATETIME", "'01/02/2024'", "ISO 8601" },
        { "DATETIME", "'2024-02-30'", "valid calendar date" },
        { "DATETIME", "'yesterday'", "ISO 8601" },
        { "DATETIME", "'2024-03-01 10:00:00.1234567'", "fractional digits" },
        { "DATETIME", "1e20", "" },
        { "DATE", "'2024-03-01 10:00:00'", "" },
        { "BLOB", "'text'", "a TEXT value cannot be stored in bytea" },
        { "BLOB", "42", "an INTEGER value cannot be stored in bytea" }, // it said "a INTEGER value"
        { "BOOLEAN", "2", "neither 0 nor 1" },
        { "BOOLEAN", "9007199254740993", "9007199254740993 is neither" }, // the integer, not a rounded double
        { "DATETIME", "'2024-03-01 10:00:00+05:99'", "zone offset" }, // SQLite's datetime() gives NULL for these
        { "DATETIME", "'2024-03-01 10:00:00+15:00'", "zone offset" },
        { "DATETIME", "'0001-01-01 00:00:00+01:00'", "once converted to UTC" }, // before the first day
        { "DATETIME", "'9999-12-31 23:59:59-01:00'", "once converted to UTC" }, // after the last
        { "DATETIME", "-62135596801", "outside the years 1 to 9999" },
        // As a winning PostgreSQL version beyond 9999 is written into the file; the reason said "is not an ISO 8601 date".
        { "DATETIME", "'10000-01-01 00:00:00'", "'10000-01-01 00:00:00' is outside the years 1 to 9999" },
        { "DATE", "'10000-01-01'", "is outside the years 1 to 9999" },
    };

    [Fact]
    public async Task An_existing_real_column_takes_the_reals_float4_holds_exactly_and_holds_back_the_others()
    {
        // type-mapping.md: `real` (existing column), refused unless exact in float4. It used to refuse the whole table.
        _fixture.PgExecute($"CREATE SCHEMA IF NOT EXISTS \"{_fixture.Schema}\"; CREATE TABLE \"{_fixture.Schema}\".single (id bigint PRIMARY KEY, v real)");
        var path = _fixture.CreateDatabase("CREATE TABLE single (id INTEGER PRIMARY KEY, v REAL); INSERT INTO single VALUES (1, 0.5), (2, -1e10), (3, 0.1), (4, NULL);");

        var result = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.PartiallySucceeded, 3L, 1L), (result.Status, result.Inserted, result.Quarantined));
        Assert.Equal("0.5,-1e+10", _fixture.PgText($"SELECT string_agg(v::text, ',' ORDER BY id) FROM \"{_fixture.Schema}\".single"));
        Assert.Contains("without rounding", Assert.Single(await new SyncEngine().GetQuarantineAsync(new QuarantineQuery { Path = path })).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Declared_types_with_arguments_before_with_time_zone_map_by_their_whole_name_and_char_n_is_named_so()
    {
        // TIMESTAMP(3) WITH TIME ZONE, as DDL from PostgreSQL writes it (SQLite takes it quoted), was mapped by the part before its parenthesis:
        // a timestamp without time zone. A char(n) column's refusals named it character varying(n) (fidelity exploration, m3, m4).
        _fixture.PgExecute($"CREATE SCHEMA IF NOT EXISTS \"{_fixture.Schema}\"; CREATE TABLE \"{_fixture.Schema}\".codes (id bigint PRIMARY KEY, c char(3))");
        var path = _fixture.CreateDatabase("""
            CREATE TABLE stamps (id INTEGER PRIMARY KEY, a "TIMESTAMP(3) WITH TIME ZONE", b "timestamp ( 6 )  without  time zone", c TIMESTAMPTZ(3));
            INSERT INTO stamps VALUES (1, '2024-03-01 10:00:00+02:00', '2024-03-01 10:00:00', '2024-03-01 10:00:00Z');
            CREATE TABLE codes (id INTEGER PRIMARY KEY, c TEXT);
            INSERT INTO codes VALUES (1, 'abc'), (2, 'abcd');
            """);

        var result = await _fixture.SyncAsync(path);

        Assert.Equal(SyncStatus.PartiallySucceeded, result.Status);
        Assert.Equal("timestamp with time zone,timestamp without time zone,timestamp with time zone", _fixture.PgText($"""
            SELECT string_agg(format_type(atttypid, atttypmod), ',' ORDER BY attnum) FROM pg_attribute
            WHERE attrelid = '"{_fixture.Schema}".stamps'::regclass AND attname IN ('a', 'b', 'c')
            """));
        Assert.Equal("2024-03-01 08:00:00", _fixture.PgText($"SELECT to_char(a AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') FROM \"{_fixture.Schema}\".stamps"));
        var held = Assert.Single(await new SyncEngine().GetQuarantineAsync(new QuarantineQuery { Path = path }));
        Assert.Contains("the 3 characters of character(3)", held.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Held_rows_whose_text_keys_are_not_utf8_are_told_apart_by_their_bytes()
    {
        // Both showed as (k=\uFFFD), in quarantine and in the reason (fidelity exploration, m5).
        var path = _fixture.CreateDatabase("""
            CREATE TABLE k (k TEXT PRIMARY KEY, v TEXT);
            INSERT INTO k VALUES (CAST(x'ff' AS TEXT), 'a'), (CAST(x'fe' AS TEXT), 'b'), ('fine', 'c');
            """);

        var result = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.PartiallySucceeded, 1L, 2L), (result.Status, result.Inserted, result.Quarantined));
        var held = await new SyncEngine().GetQuarantineAsync(new QuarantineQuery { Path = path });
        Assert.Equal(["(k=CAST(x'FE' AS TEXT))", "(k=CAST(x'FF' AS TEXT))"], held.Select(h => h.Key).Order(StringComparer.Ordinal));
        Assert.All(held, h => Assert.Contains(h.Key, h.Reason, StringComparison.Ordinal));
    }

    [Fact]
    public void A_zero_with_a_huge_exponent_is_zero_digits_not_its_zeros_spelled_out()
    {
        // The digit-for-digit check after decimal.TryParse spelled out '0e999999999' (a billion zeros); an exponent
        // beyond int overflows, which the check takes for different digits (review of fa55c4c).
        Assert.Equal((false, "", 0), DbSync.Core.Target.ValueWriter.DecimalDigits("0e999999999"));
        Assert.Equal((true, "15", 1), DbSync.Core.Target.ValueWriter.DecimalDigits("-1.50"));
        Assert.Throws<OverflowException>(() => DbSync.Core.Target.ValueWriter.DecimalDigits("1e99999999999"));
    }

    [Fact]
    public async Task Reals_beyond_what_a_decimal_holds_arrive_in_numeric_as_their_shortest_decimal()
    {
        // System.Decimal keeps 28 decimal places and 7.9e28: these used to arrive as 0 (or rounded), or were refused.
        var path = _fixture.CreateDatabase("""
            CREATE TABLE tiny (id INTEGER PRIMARY KEY, v NUMERIC, w DECIMAL(40,30));
            INSERT INTO tiny VALUES (1, 1e-30, 1e-30), (2, 1.2345678901234567e-20, -2.5e-29), (3, 1e300, 0.5), (4, -5e-324, NULL);
            """);

        var result = await _fixture.SyncAsync(path);

        Assert.Equal((SyncStatus.Succeeded, 4L), (result.Status, result.Inserted));
        string Pg(int id, string column) => _fixture.PgText($"SELECT {column}::text FROM {_fixture.Schema}.tiny WHERE id = {id}")!;
        Assert.Equal("0." + new string('0', 29) + "1", Pg(1, "v"));
        Assert.Equal("0." + new string('0', 29) + "1", Pg(1, "w"));
        Assert.Equal("0.000000000000000000012345678901234567", Pg(2, "v"));
        Assert.Equal("-0." + new string('0', 28) + "25", Pg(2, "w").TrimEnd('0'));
        Assert.Equal("1" + new string('0', 300), Pg(3, "v"));
        Assert.Equal("-0." + new string('0', 323) + "5", Pg(4, "v"));

        // A push of such a value too.
        SyncFixture.Execute(path, "UPDATE tiny SET v = 2.5e-29 WHERE id = 1");
        Assert.Equal(1, (await _fixture.SyncAsync(path)).Updated);
        Assert.Equal("0." + new string('0', 28) + "25", Pg(1, "v"));
    }

    [Theory]
    [MemberData(nameof(NotStorable))]
    public async Task A_value_that_cannot_be_stored_exactly_is_quarantined_by_table_column_and_row_and_heals_once_fixed(string declared, string sql, string reason)
    {
        var good = declared is "BLOB" ? "x'00'" : declared is "DATETIME" or "DATE" ? "'2024-01-01'" : "0";
        var path = _fixture.CreateDatabase($"""
            CREATE TABLE fine (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO fine VALUES (1, 'ok');
            CREATE TABLE odd (id INTEGER PRIMARY KEY, v {declared}); INSERT INTO odd VALUES (1, {good}), (7, {sql}), (8, {good});
            """);

        var result = await _fixture.SyncAsync(path);

        // The rest of the table and of the run commits; the row is held back with the reason, and stays pending.
        Assert.Equal(SyncStatus.PartiallySucceeded, result.Status);
        Assert.Equal(1, result.Quarantined);
        Assert.Equal(1, result.Tables.Single(t => t.Name == "odd").Quarantined);
        Assert.Equal(1, _fixture.PgScalar($"SELECT count(*) FROM {_fixture.Schema}.fine"));
        Assert.Equal(2, _fixture.PgScalar($"SELECT count(*) FROM {_fixture.Schema}.odd WHERE id IN (1, 8)"));
        Assert.Equal(0, _fixture.PgScalar($"SELECT count(*) FROM {_fixture.Schema}.odd WHERE id = 7"));
        var held = Assert.Single(await new SyncEngine().GetQuarantineAsync(new QuarantineQuery { Path = path }));
        Assert.Equal(("odd", "(id=7)", HeldKind.Quarantined), (held.Table, held.Key, held.Kind));
        Assert.Contains("Table 'odd'", held.Reason, StringComparison.Ordinal);
        Assert.Contains("column 'v'", held.Reason, StringComparison.Ordinal);
        Assert.Contains(reason, held.Reason, StringComparison.Ordinal);

        // Tried again on the next run, still held; fixing the data heals it.
        var again = await _fixture.SyncAsync(path);
        Assert.Equal((SyncStatus.PartiallySucceeded, 1L), (again.Status, again.Quarantined));
        Assert.Equal(2, Assert.Single(await new SyncEngine().GetQuarantineAsync(new QuarantineQuery { Path = path })).Attempts);
        SyncFixture.Execute(path, $"UPDATE odd SET v = {good} WHERE id = 7");
        var healed = await _fixture.SyncAsync(path);
        Assert.Equal((SyncStatus.Succeeded, 0L, 1L), (healed.Status, healed.Quarantined, healed.Inserted));
        Assert.Equal(3, _fixture.PgScalar($"SELECT count(*) FROM {_fixture.Schema}.odd"));
        Assert.Empty(await new SyncEngine().GetQuarantineAsync(new QuarantineQuery { Path = path }));
    }
}
