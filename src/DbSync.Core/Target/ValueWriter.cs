using System.Globalization;
using System.Text.RegularExpressions;
using DbSync.Core.Schema;
using Microsoft.Data.Sqlite;
using Npgsql;
using NpgsqlTypes;

namespace DbSync.Core.Target;

/// <summary>SQLite's storage classes: what a value really is, whatever its column's declared type.</summary>
public enum StorageClass
{
    /// <summary>NULL</summary>
    Null,
    /// <summary>64-bit integer</summary>
    Integer,
    /// <summary>IEEE double</summary>
    Real,
    /// <summary>UTF-8 text</summary>
    Text,
    /// <summary>bytes</summary>
    Blob,
}

/// <summary>A value that cannot be stored in its target column without being changed.</summary>
public sealed class ValueConversionException : DbSyncException
{
    /// <summary>Creates the exception; the message names table, column, key and the reason.</summary>
    public ValueConversionException(string table, string column, string key, string reason)
        : base(ErrorIds.ValueNotConvertible, DbSyncErrorCategory.InvalidData,
            $"Table '{table}', column '{column}', row {key}: {reason}. Nothing was written; fix the value or the column type.", table)
    {
        Table = table;
        Column = column;
        Key = key;
        Reason = reason;
    }

    /// <summary>Source table.</summary>
    public string Table { get; }

    /// <summary>Source column.</summary>
    public string Column { get; }

    /// <summary>The row's key, as text.</summary>
    public string Key { get; }

    /// <summary>Why the value cannot be stored.</summary>
    public string Reason { get; }
}

/// <summary>
/// Writes SQLite values into a PostgreSQL binary COPY, converting by the rules in docs/type-mapping.md. A value is
/// either stored exactly (by a canonical comparison) or refused with a <see cref="ValueConversionException"/>;
/// never rounded, truncated or reinterpreted silently.
/// </summary>
public sealed partial class ValueWriter
{
    private static readonly DateTime _unixEpoch = new(1970, 1, 1, 0, 0, 0, DateTimeKind.Unspecified);
    private readonly string _table;
    private readonly string _column;
    private readonly PgType _type;
    private readonly decimal _numericLimit;

    /// <summary>Creates a writer for one target column.</summary>
    public ValueWriter(string table, string column, PgType type)
    {
        _table = table;
        _column = column;
        _type = type ?? throw new ArgumentNullException(nameof(type));
        _numericLimit = type.Kind == PgKind.Numeric && type.Precision > 0 && type.Precision - type.Scale <= 28
            ? Pow10(type.Precision - type.Scale)
            : decimal.MaxValue;
    }

    /// <summary>The storage class of a reader's current value.</summary>
    public static StorageClass StorageOf(SqliteDataReader reader, int ordinal)
    {
        ArgumentNullException.ThrowIfNull(reader);
        if (reader.IsDBNull(ordinal))
        {
            return StorageClass.Null;
        }

        var type = reader.GetFieldType(ordinal);
        return type == typeof(long) ? StorageClass.Integer
            : type == typeof(double) ? StorageClass.Real
            : type == typeof(string) ? StorageClass.Text
            : StorageClass.Blob;
    }

    /// <summary>Writes the reader's value at <paramref name="ordinal"/> as the next field of the current COPY row.</summary>
    /// <param name="reader">The SQLite reader positioned on a row.</param>
    /// <param name="ordinal">The column's ordinal in the reader.</param>
    /// <param name="writer">The COPY in progress.</param>
    /// <param name="describeKey">Produces the row's key text for an error message; only called on failure.</param>
    public void Write(SqliteDataReader reader, int ordinal, NpgsqlBinaryImporter writer, Func<string> describeKey)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(describeKey);
        var storage = StorageOf(reader, ordinal);
        if (storage == StorageClass.Null)
        {
            writer.WriteNull();
            return;
        }

        string? failure = null;
        switch (_type.Kind)
        {
            case PgKind.Int16:
            case PgKind.Int32:
            case PgKind.Int64:
                if (ToInt64(reader, ordinal, storage, out var integer, ref failure))
                {
                    if (_type.Kind == PgKind.Int64)
                    {
                        writer.Write(integer, NpgsqlDbType.Bigint);
                    }
                    else if (_type.Kind == PgKind.Int32 && integer is >= int.MinValue and <= int.MaxValue)
                    {
                        writer.Write((int)integer, NpgsqlDbType.Integer);
                    }
                    else if (_type.Kind == PgKind.Int16 && integer is >= short.MinValue and <= short.MaxValue)
                    {
                        writer.Write((short)integer, NpgsqlDbType.Smallint);
                    }
                    else
                    {
                        failure = $"{integer} is out of range for {_type.SqlName}";
                    }
                }

                break;
            case PgKind.Float4:
            case PgKind.Float8:
                if (ToDouble(reader, ordinal, storage, out var real, ref failure))
                {
                    if (_type.Kind == PgKind.Float8)
                    {
                        writer.Write(real, NpgsqlDbType.Double);
                    }
                    else if ((double)(float)real == real || double.IsNaN(real))
                    {
                        writer.Write((float)real, NpgsqlDbType.Real);
                    }
                    else
                    {
                        failure = $"{real.ToString("R", CultureInfo.InvariantCulture)} cannot be stored in real without rounding";
                    }
                }

                break;
            case PgKind.Numeric:
                if (ToDecimal(reader, ordinal, storage, out var number, ref failure))
                {
                    writer.Write(number, NpgsqlDbType.Numeric);
                }

                break;
            case PgKind.Text:
                if (ToText(reader, ordinal, storage, out var text, ref failure))
                {
                    writer.Write(text, NpgsqlDbType.Text);
                }

                break;
            case PgKind.Bytea:
                if (storage == StorageClass.Blob)
                {
                    writer.Write(reader.GetFieldValue<byte[]>(ordinal), NpgsqlDbType.Bytea);
                }
                else
                {
                    failure = $"a {storage.ToString().ToUpperInvariant()} value cannot be stored in bytea without reinterpreting it";
                }

                break;
            case PgKind.Boolean:
                if (ToBoolean(reader, ordinal, storage, out var flag, ref failure))
                {
                    writer.Write(flag, NpgsqlDbType.Boolean);
                }

                break;
            case PgKind.Date:
                if (ToDateTime(reader, ordinal, storage, out var day, ref failure))
                {
                    if (day.TimeOfDay == TimeSpan.Zero)
                    {
                        writer.Write(DateOnly.FromDateTime(day), NpgsqlDbType.Date);
                    }
                    else
                    {
                        failure = $"'{Preview(reader, ordinal, storage)}' has a time of day, which a date column cannot hold";
                    }
                }

                break;
            case PgKind.Timestamp:
                if (ToDateTime(reader, ordinal, storage, out var moment, ref failure))
                {
                    writer.Write(DateTime.SpecifyKind(moment, DateTimeKind.Unspecified), NpgsqlDbType.Timestamp);
                }

                break;
            case PgKind.TimestampTz:
                if (ToDateTime(reader, ordinal, storage, out var instant, ref failure))
                {
                    writer.Write(DateTime.SpecifyKind(instant, DateTimeKind.Utc), NpgsqlDbType.TimestampTz);
                }

                break;
            default:
                failure = $"DbSync cannot write {_type.SqlName}";
                break;
        }

        if (failure is not null)
        {
            throw new ValueConversionException(_table, _column, describeKey(), failure);
        }
    }

    private bool ToInt64(SqliteDataReader reader, int ordinal, StorageClass storage, out long value, ref string? failure)
    {
        value = 0;
        switch (storage)
        {
            case StorageClass.Integer:
                value = reader.GetInt64(ordinal);
                return true;
            case StorageClass.Real:
                var d = reader.GetDouble(ordinal);
                if (Math.Floor(d) == d && d >= -9.2233720368547758E+18 && d < 9.2233720368547758E+18)
                {
                    value = (long)d;
                    return true;
                }

                failure = $"the real value {d.ToString("R", CultureInfo.InvariantCulture)} is not a whole number that {_type.SqlName} can hold";
                return false;
            case StorageClass.Text:
                var s = reader.GetString(ordinal);
                if (long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value))
                {
                    return true;
                }

                failure = $"the text '{Shorten(s)}' is not an integer";
                return false;
            default:
                failure = $"a BLOB value cannot be stored in {_type.SqlName}";
                return false;
        }
    }

    private bool ToDouble(SqliteDataReader reader, int ordinal, StorageClass storage, out double value, ref string? failure)
    {
        value = 0;
        switch (storage)
        {
            case StorageClass.Integer:
                var i = reader.GetInt64(ordinal);
                value = i;
                if (i is > (1L << 53) or < -(1L << 53) && (value >= 9.2233720368547758E+18 || (long)value != i))
                {
                    failure = $"the integer {i} cannot be stored in {_type.SqlName} without rounding";
                    return false;
                }

                return true;
            case StorageClass.Real:
                value = reader.GetDouble(ordinal);
                return true;
            case StorageClass.Text:
                var s = reader.GetString(ordinal);
                if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out value))
                {
                    return true;
                }

                failure = $"the text '{Shorten(s)}' is not a number";
                return false;
            default:
                failure = $"a BLOB value cannot be stored in {_type.SqlName}";
                return false;
        }
    }

    private bool ToDecimal(SqliteDataReader reader, int ordinal, StorageClass storage, out decimal value, ref string? failure)
    {
        value = 0;
        string text;
        switch (storage)
        {
            case StorageClass.Integer:
                value = reader.GetInt64(ordinal);
                return CheckNumericRange(value, ref failure);
            case StorageClass.Real:
                var d = reader.GetDouble(ordinal);
                if (double.IsNaN(d) || double.IsInfinity(d))
                {
                    failure = $"{d.ToString(CultureInfo.InvariantCulture)} cannot be stored in {_type.SqlName} by DbSync";
                    return false;
                }

                // The shortest text that reads back as the same double: 0.99 stays 0.99, not 0.98999999999999999.
                text = d.ToString("R", CultureInfo.InvariantCulture);
                break;
            case StorageClass.Text:
                text = reader.GetString(ordinal);
                break;
            default:
                failure = $"a BLOB value cannot be stored in {_type.SqlName}";
                return false;
        }

        try
        {
            if (!decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value))
            {
                failure = $"the text '{Shorten(text)}' is not a number";
                return false;
            }
        }
        catch (OverflowException)
        {
            failure = $"'{Shorten(text)}' is beyond the 28 significant digits DbSync can carry into {_type.SqlName}";
            return false;
        }

        return CheckNumericRange(value, ref failure);
    }

    private bool CheckNumericRange(decimal value, ref string? failure)
    {
        if (_type.Precision > 0)
        {
            if (decimal.Round(value, Math.Min(_type.Scale, 28)) != value)
            {
                failure = $"{value.ToString(CultureInfo.InvariantCulture)} has more than {_type.Scale} decimal places and {_type.SqlName} would round it";
                return false;
            }

            if (Math.Abs(value) >= _numericLimit)
            {
                failure = $"{value.ToString(CultureInfo.InvariantCulture)} does not fit {_type.SqlName}";
                return false;
            }
        }

        return true;
    }

    private bool ToText(SqliteDataReader reader, int ordinal, StorageClass storage, out string value, ref string? failure)
    {
        value = storage switch
        {
            StorageClass.Text => reader.GetString(ordinal),
            StorageClass.Integer => reader.GetInt64(ordinal).ToString(CultureInfo.InvariantCulture),
            StorageClass.Real => FormatReal(reader.GetDouble(ordinal)),
            _ => "",
        };
        if (storage == StorageClass.Blob)
        {
            failure = $"a BLOB value cannot be stored in {_type.SqlName} without reinterpreting its bytes";
            return false;
        }

        if (value.Contains('\0', StringComparison.Ordinal))
        {
            failure = "the text contains a NUL character, which PostgreSQL text cannot store";
            return false;
        }

        if (_type.Precision > 0 && value.Length > _type.Precision && value.EnumerateRunes().Count() > _type.Precision)
        {
            failure = $"the text is longer than the {_type.Precision} characters of {_type.SqlName}";
            return false;
        }

        return true;
    }

    private static string FormatReal(double d) => double.IsPositiveInfinity(d) ? "Infinity"
        : double.IsNegativeInfinity(d) ? "-Infinity"
        : d.ToString("R", CultureInfo.InvariantCulture);

    private static bool ToBoolean(SqliteDataReader reader, int ordinal, StorageClass storage, out bool value, ref string? failure)
    {
        value = false;
        switch (storage)
        {
            case StorageClass.Integer:
            case StorageClass.Real:
                var n = storage == StorageClass.Integer ? reader.GetInt64(ordinal) : reader.GetDouble(ordinal);
                if (n is 0 or 1)
                {
                    value = n == 1;
                    return true;
                }

                failure = $"{n.ToString(CultureInfo.InvariantCulture)} is neither 0 nor 1";
                return false;
            case StorageClass.Text:
                var s = reader.GetString(ordinal);
                switch (s.ToLowerInvariant())
                {
                    case "1" or "t" or "true":
                        value = true;
                        return true;
                    case "0" or "f" or "false":
                        return true;
                    default:
                        failure = $"the text '{Shorten(s)}' is not a boolean (true/false, t/f, 1/0)";
                        return false;
                }

            default:
                failure = "a BLOB value cannot be stored in boolean";
                return false;
        }
    }

    [GeneratedRegex(@"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$", RegexOptions.CultureInvariant)]
    private static partial Regex IsoDateTime();

    private bool ToDateTime(SqliteDataReader reader, int ordinal, StorageClass storage, out DateTime value, ref string? failure)
    {
        value = default;
        switch (storage)
        {
            case StorageClass.Integer:
                // Unix time in seconds, as SQLite's unixepoch() and datetime(x, 'unixepoch') use it.
                var seconds = reader.GetInt64(ordinal);
                if (seconds is > -62135596800 and < 253402300800)
                {
                    value = _unixEpoch.AddSeconds(seconds);
                    return true;
                }

                failure = $"{seconds} as Unix time is outside the years 1 to 9999";
                return false;
            case StorageClass.Real:
                // A Julian day number, as SQLite's julianday() produces; kept to the microsecond PostgreSQL stores.
                var julian = reader.GetDouble(ordinal);
                var micros = Math.Round((julian - 2440587.5) * 86_400_000_000d);
                if (micros is > -62135596800_000000d and < 253402300800_000000d)
                {
                    value = _unixEpoch.AddTicks((long)micros * 10);
                    return true;
                }

                failure = $"{julian.ToString("R", CultureInfo.InvariantCulture)} as a Julian day is outside the years 1 to 9999";
                return false;
            case StorageClass.Text:
                var s = reader.GetString(ordinal);
                if (TryParseIso(s, out value, out var reason))
                {
                    return true;
                }

                failure = $"the text '{Shorten(s)}' {reason}";
                return false;
            default:
                failure = $"a BLOB value cannot be stored in {_type.SqlName}";
                return false;
        }
    }

    /// <summary>
    /// Parses ISO 8601 date or date-time text as SQLite's date functions write it. Text with a zone offset
    /// becomes its UTC instant; text without one is taken as written.
    /// </summary>
    public static bool TryParseIso(string text, out DateTime value, out string reason)
    {
        ArgumentNullException.ThrowIfNull(text);
        value = default;
        var m = IsoDateTime().Match(text.Trim());
        if (!m.Success)
        {
            reason = "is not an ISO 8601 date or date-time (YYYY-MM-DD[ HH:MM[:SS[.fff]]][Z|±HH:MM])";
            return false;
        }

        int Part(int g) => m.Groups[g].Success ? int.Parse(m.Groups[g].Value, CultureInfo.InvariantCulture) : 0;
        long ticks = 0;
        if (m.Groups[7].Success)
        {
            var fraction = m.Groups[7].Value;
            if (fraction.Length > 6 && fraction[6..].Any(c => c != '0'))
            {
                reason = "has more fractional digits than the microseconds PostgreSQL stores";
                return false;
            }

            ticks = long.Parse(fraction.PadRight(7, '0')[..7], CultureInfo.InvariantCulture);
        }

        try
        {
            value = new DateTime(Part(1), Part(2), Part(3), Part(4), Part(5), Part(6), DateTimeKind.Unspecified).AddTicks(ticks);
        }
        catch (ArgumentOutOfRangeException)
        {
            reason = "is not a valid calendar date or time";
            return false;
        }

        if (m.Groups[8].Success && !m.Groups[8].Value.Equals("Z", StringComparison.OrdinalIgnoreCase))
        {
            var zone = m.Groups[8].Value.Replace(":", "", StringComparison.Ordinal);
            var hours = int.Parse(zone[1..3], CultureInfo.InvariantCulture);
            var minutes = zone.Length > 3 ? int.Parse(zone[3..5], CultureInfo.InvariantCulture) : 0;
            var offset = new TimeSpan(hours, minutes, 0);
            value = zone[0] == '+' ? value - offset : value + offset;
        }

        reason = "";
        return true;
    }

    private static string Preview(SqliteDataReader reader, int ordinal, StorageClass storage) => storage switch
    {
        StorageClass.Text => Shorten(reader.GetString(ordinal)),
        StorageClass.Integer => reader.GetInt64(ordinal).ToString(CultureInfo.InvariantCulture),
        StorageClass.Real => reader.GetDouble(ordinal).ToString("R", CultureInfo.InvariantCulture),
        _ => "BLOB",
    };

    private static string Shorten(string s) => (s.Length > 60 ? s[..60] + "…" : s).Replace("\0", "\\0", StringComparison.Ordinal);

    private static decimal Pow10(int exponent)
    {
        var result = 1m;
        for (var i = 0; i < exponent; i++)
        {
            result *= 10m;
        }

        return result;
    }
}
