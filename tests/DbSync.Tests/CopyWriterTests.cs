using System.Globalization;
using DbSync.Core.Target;
using DbSync.Tests.Infrastructure;

namespace DbSync.Tests;

/// <summary>
/// DbSync's own binary COPY encoder, checked by PostgreSQL itself: values are written through it into a temporary
/// table and read back as PostgreSQL's text, which is compared with text made here by .NET's formatting.
/// </summary>
public sealed class CopyWriterTests
{
    [Fact]
    public async Task Numeric_values_of_every_scale_and_size_arrive_digit_for_digit()
    {
        var random = new Random(20_261_122);
        var values = new List<decimal>
        {
            0m, -0m, 0.0000m, 1m, -1m, 0.0001m, -0.0001m, 0.00000005m, 9999m, 10000m, 10001m, 100000000m, 1234.567m, 12.50m,
            decimal.MaxValue, decimal.MinValue, 0.0000000000000000000000000001m, -7.9228162514264337593543950335m,
            123456789012345678m, 0.30000000000000004m,
        };
        for (var i = 0; i < 2000; i++)
        {
            // Random 96-bit mantissas with every scale from 0 to 28.
            values.Add(new decimal(random.Next(), random.Next(), random.Next(), random.Next(2) == 0, (byte)random.Next(29)));
            values.Add(new decimal(random.Next(100_000), 0, 0, random.Next(2) == 0, (byte)random.Next(29)));
        }

        var texts = await RoundTripAsync("numeric", values, (w, v) => w.WriteNumeric(v));
        for (var i = 0; i < values.Count; i++)
        {
            // PostgreSQL prints a numeric with its scale: what decimal's invariant text also shows (minus a lone "-0").
            var expected = values[i].ToString(CultureInfo.InvariantCulture);
            expected = expected.TrimStart('-').Trim('0', '.').Length == 0 ? expected.TrimStart('-') : expected;
            Assert.True(expected == texts[i], $"{values[i]} (scale {values[i].Scale}): PostgreSQL holds {texts[i]}");
        }
    }

    [Fact]
    public async Task Dates_and_timestamps_arrive_exactly_to_the_ends_of_their_range()
    {
        var dates = new[] { DateOnly.MinValue, new DateOnly(1999, 12, 31), new DateOnly(2000, 1, 1), new DateOnly(2024, 2, 29), DateOnly.MaxValue };
        Assert.Equal(dates.Select(d => d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)),
            await RoundTripAsync("date", dates, (w, v) => w.WriteDate(v)));

        var moments = new[]
        {
            DateTime.MinValue, new DateTime(1969, 12, 31, 23, 59, 59).AddTicks(9_999_990), new DateTime(2000, 1, 1),
            new DateTime(2024, 3, 1, 10, 11, 12).AddTicks(1_234_560), DateTime.MaxValue.AddTicks(-9),
        };
        Assert.Equal(moments.Select(m => m.ToString("yyyy-MM-dd HH:mm:ss.ffffff", CultureInfo.InvariantCulture)),
            await RoundTripAsync("timestamp", moments, (w, v) => w.WriteTimestamp(v), "to_char(v, 'YYYY-MM-DD HH24:MI:SS.US')"));
    }

    [Fact]
    public async Task Text_and_bytes_longer_than_the_buffer_arrive_whole()
    {
        var long1 = new string('é', 100_000) + "end";
        var texts = await RoundTripAsync("text", new[] { "", "a", long1, "ü" }, (w, v) => w.WriteText(v));
        Assert.Equal(new[] { "", "a", long1, "ü" }, texts);

        var blob = new byte[200_000];
        new Random(5).NextBytes(blob);
        var hex = await RoundTripAsync("bytea", new[] { blob, Array.Empty<byte>() }, (w, v) => w.WriteBytes(v), "encode(v, 'hex')");
        Assert.Equal(new[] { Convert.ToHexString(blob).ToLowerInvariant(), "" }, hex);
    }

    /// <summary>Writes one row per value through <see cref="CopyWriter"/> and returns <paramref name="show"/> of each, in order.</summary>
    private static async Task<List<string>> RoundTripAsync<T>(string type, IReadOnlyList<T> values, Action<CopyWriter, T> write, string show = "v::text")
    {
        await using var pg = TestServer.Open();
        await using (var create = new Npgsql.NpgsqlCommand($"CREATE TEMP TABLE t (n int PRIMARY KEY, v {type})", pg))
        {
            await create.ExecuteNonQueryAsync();
        }

        await using (var stream = await pg.BeginRawBinaryCopyAsync("COPY t (n, v) FROM STDIN (FORMAT BINARY)"))
        {
            var writer = new CopyWriter(stream);
            for (var i = 0; i < values.Count; i++)
            {
                writer.StartRow(2);
                writer.WriteInt32(i);
                write(writer, values[i]);
            }

            writer.Finish();
        }

        var texts = new List<string>();
        await using var select = new Npgsql.NpgsqlCommand($"SELECT {show} FROM t ORDER BY n", pg);
        await using var reader = await select.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            texts.Add(reader.GetString(0));
        }

        Assert.Equal(values.Count, texts.Count);
        return texts;
    }
}
