using System.Globalization;
using DbSync.Core.Schema;
using System.Text.Unicode;
using DbSync.Core.Source;

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

    /// <summary>The reason a quarantined row is held with: the rest of its run is written.</summary>
    public string HeldReason => $"Table '{Table}', column '{Column}', row {Key}: {Reason}. The row is held back until the value or the column type is fixed.";
}

/// <summary>
/// Writes SQLite values into a PostgreSQL binary COPY, converting by the rules in docs/type-mapping.md. A value is
/// either stored exactly (by a canonical comparison) or refused with a <see cref="ValueConversionException"/>;
/// never rounded, truncated or reinterpreted silently.
/// </summary>
public sealed class ValueWriter
{
    private static readonly DateTime _unixEpoch = new(1970, 1, 1, 0, 0, 0, DateTimeKind.Unspecified);
    private readonly string _table;
    private readonly string _column;
    private readonly PgType _type;
    private readonly decimal _numericLimit;
    // The ticks (100 ns) of one unit of a timestamp(p)'s last digit; 0 when the column keeps microseconds, as DbSync writes them.
    private readonly long _timestampUnit;
    private readonly ServerEncoding? _encoding;

    /// <summary>Creates a writer for one target column.</summary>
    /// <param name="table">The source table, for messages.</param>
    /// <param name="column">The source column, for messages.</param>
    /// <param name="type">The target column's type.</param>
    /// <param name="encoding">The database's encoding when text must be checked against it (<see cref="ServerEncoding.Of"/>); null for UTF8.</param>
    public ValueWriter(string table, string column, PgType type, ServerEncoding? encoding = null)
    {
        _table = table;
        _column = column;
        _type = type ?? throw new ArgumentNullException(nameof(type));
        _encoding = encoding;
        _numericLimit = type.Kind == PgKind.Numeric && type.Precision > 0 && type.Precision - type.Scale <= 28
            ? Pow10(type.Precision - type.Scale)
            : decimal.MaxValue;
        _timestampUnit = type.FractionalDigits is { } digits and < 6 ? (long)Math.Pow(10, 7 - digits) : 0;
    }

    /// <summary>Writes the reader's value at <paramref name="ordinal"/> as the next field of the current COPY row.</summary>
    /// <param name="reader">The SQLite reader positioned on a row.</param>
    /// <param name="ordinal">The column's ordinal in the reader.</param>
    /// <param name="writer">The COPY in progress.</param>
    /// <param name="describeKey">Produces the row's key text for an error message; only called on failure.</param>
    public void Write(SourceRows reader, int ordinal, CopyWriter writer, Func<string> describeKey)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(describeKey);
        var storage = reader.Storage(ordinal);
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
                        writer.WriteInt64(integer);
                    }
                    else if (_type.Kind == PgKind.Int32 && integer is >= int.MinValue and <= int.MaxValue)
                    {
                        writer.WriteInt32((int)integer);
                    }
                    else if (_type.Kind == PgKind.Int16 && integer is >= short.MinValue and <= short.MaxValue)
                    {
                        writer.WriteInt16((short)integer);
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
                        writer.WriteFloat8(real);
                    }
                    else if ((double)(float)real == real || double.IsNaN(real))
                    {
                        writer.WriteFloat4((float)real);
                    }
                    else
                    {
                        failure = $"{real.ToString("R", CultureInfo.InvariantCulture)} cannot be stored in real without rounding";
                    }
                }

                break;
            case PgKind.Numeric:
                if (storage == StorageClass.Real && !DecimalHoldsExactly(reader.Double(ordinal)))
                {
                    // Beyond what System.Decimal holds exactly (28 decimal places, 7.9e28): the double's shortest
                    // decimal, written digit by digit (1e-30 would otherwise arrive as 0).
                    if (ToNumericDigits(reader.Double(ordinal), out var negative, out var digits, out var scale, ref failure))
                    {
                        writer.WriteNumeric(negative, digits, scale);
                    }
                }
                else if (ToDecimal(reader, ordinal, storage, out var number, ref failure))
                {
                    writer.WriteNumeric(number);
                }

                break;
            case PgKind.Text:
                if (storage == StorageClass.Text)
                {
                    // The common case: SQLite's UTF-8 goes to PostgreSQL as it is, never decoded into a string.
                    var utf8 = reader.Utf8(ordinal);
                    if (CheckText(utf8, ref failure))
                    {
                        writer.WriteBytes(utf8);
                    }
                }
                else if (ToText(reader, ordinal, storage, out var text, ref failure))
                {
                    writer.WriteText(text);
                }

                break;
            case PgKind.Bytea:
                if (storage == StorageClass.Blob)
                {
                    writer.WriteBytes(reader.Blob(ordinal));
                }
                else
                {
                    failure = $"{(storage == StorageClass.Integer ? "an" : "a")} {storage.ToString().ToUpperInvariant()} value cannot be stored in bytea without reinterpreting it";
                }

                break;
            case PgKind.Boolean:
                if (ToBoolean(reader, ordinal, storage, out var flag, ref failure))
                {
                    writer.WriteBoolean(flag);
                }

                break;
            case PgKind.Date:
                if (ToDateTime(reader, ordinal, storage, out var day, ref failure))
                {
                    if (day.TimeOfDay == TimeSpan.Zero)
                    {
                        writer.WriteDate(DateOnly.FromDateTime(day));
                    }
                    else
                    {
                        failure = $"'{Preview(reader, ordinal, storage)}' has a time of day, which a date column cannot hold";
                    }
                }

                break;
            case PgKind.Timestamp:
            case PgKind.TimestampTz:
                if (ToDateTime(reader, ordinal, storage, out var moment, ref failure))
                {
                    if (_timestampUnit != 0 && moment.Ticks % _timestampUnit != 0)
                    {
                        // PostgreSQL would round it, 23:59:59.6 into timestamp(0) to the next day.
                        failure = _type.FractionalDigits == 0
                            ? $"'{Preview(reader, ordinal, storage)}' has a fraction of a second, which {_type.SqlName} would round"
                            : $"'{Preview(reader, ordinal, storage)}' has more than {_type.FractionalDigits} fractional digits of a second, which {_type.SqlName} would round";
                    }
                    else
                    {
                        writer.WriteTimestamp(moment);
                    }
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

    private bool ToInt64(SourceRows reader, int ordinal, StorageClass storage, out long value, ref string? failure)
    {
        value = 0;
        switch (storage)
        {
            case StorageClass.Integer:
                value = reader.Int64(ordinal);
                return true;
            case StorageClass.Real:
                var d = reader.Double(ordinal);
                if (Math.Floor(d) == d && d >= -9.2233720368547758E+18 && d < 9.2233720368547758E+18)
                {
                    value = (long)d;
                    return true;
                }

                failure = $"the real value {d.ToString("R", CultureInfo.InvariantCulture)} is not a whole number that {_type.SqlName} can hold";
                return false;
            case StorageClass.Text:
                // .NET's parsers take trailing NUL characters for the end of the text: '12\0' would arrive as 12.
                if (reader.Utf8(ordinal) is var digits && !digits.Contains((byte)0)
                    && long.TryParse(digits, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value))
                {
                    return true;
                }

                failure = $"the text '{Shorten(reader.String(ordinal))}' is not an integer";
                return false;
            default:
                failure = $"a BLOB value cannot be stored in {_type.SqlName}";
                return false;
        }
    }

    private bool ToDouble(SourceRows reader, int ordinal, StorageClass storage, out double value, ref string? failure)
    {
        value = 0;
        switch (storage)
        {
            case StorageClass.Integer:
                var i = reader.Int64(ordinal);
                value = i;
                if (i is > (1L << 53) or < -(1L << 53) && (value >= 9.2233720368547758E+18 || (long)value != i))
                {
                    failure = $"the integer {i} cannot be stored in {_type.SqlName} without rounding";
                    return false;
                }

                return true;
            case StorageClass.Real:
                value = reader.Double(ordinal);
                return true;
            case StorageClass.Text:
                if (reader.Utf8(ordinal) is var number && !number.Contains((byte)0)
                    && double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out value))
                {
                    return true;
                }

                failure = $"the text '{Shorten(reader.String(ordinal))}' is not a number";
                return false;
            default:
                failure = $"a BLOB value cannot be stored in {_type.SqlName}";
                return false;
        }
    }

    private bool ToDecimal(SourceRows reader, int ordinal, StorageClass storage, out decimal value, ref string? failure)
    {
        value = 0;
        string text;
        switch (storage)
        {
            case StorageClass.Integer:
                value = reader.Int64(ordinal);
                return CheckNumericRange(value, ref failure);
            case StorageClass.Real:
                var d = reader.Double(ordinal);
                if (double.IsNaN(d) || double.IsInfinity(d))
                {
                    failure = $"{d.ToString(CultureInfo.InvariantCulture)} cannot be stored in {_type.SqlName} by DbSync";
                    return false;
                }

                // The shortest text that reads back as the same double: 0.99 stays 0.99, not 0.98999999999999999.
                Span<char> shortest = stackalloc char[32];
                if (d.TryFormat(shortest, out var written, "R", CultureInfo.InvariantCulture)
                    && decimal.TryParse(shortest[..written], NumberStyles.Float, CultureInfo.InvariantCulture, out value))
                {
                    return CheckNumericRange(value, ref failure);
                }

                text = d.ToString("R", CultureInfo.InvariantCulture);
                break;
            case StorageClass.Text:
                text = reader.String(ordinal);
                break;
            default:
                failure = $"a BLOB value cannot be stored in {_type.SqlName}";
                return false;
        }

        if (text.Contains('\0', StringComparison.Ordinal) || !decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value))
        {
            failure = $"the text '{Shorten(text)}' is not a number";
            return false;
        }

        // TryParse rounds what System.Decimal cannot hold (a 35-digit fraction) instead of failing. (SQLite turns text
        // that is a well-formed number into a REAL in a NUMERIC column, so such text is rare there.)
        if (!SameDigits(text, value))
        {
            failure = $"'{Shorten(text)}' is beyond the 28 significant digits DbSync can carry into {_type.SqlName}";
            return false;
        }

        return CheckNumericRange(value, ref failure);
    }

    /// <summary>Whether a number's text and the decimal it parsed to have the same digits (an exponent beyond int: no).</summary>
    private static bool SameDigits(string text, decimal value)
    {
        try
        {
            return DecimalDigits(text) == DecimalDigits(value.ToString(CultureInfo.InvariantCulture));
        }
        catch (OverflowException)
        {
            return false;
        }
    }

    /// <summary>
    /// True when the double's shortest decimal (at most 17 significant digits) converts to System.Decimal exactly: from
    /// 1e-11 (at most 28 decimal places) to below 7.9e28, and zero. NaN and infinities are refused by the decimal path.
    /// </summary>
    private static bool DecimalHoldsExactly(double d) => d == 0 || double.IsNaN(d) || double.IsInfinity(d) || Math.Abs(d) is >= 1e-11 and < 7.9e28;

    /// <summary>
    /// A finite double as the digits of its shortest decimal ("R": 1.2345E-20 is 12345 × 10^-24) for PostgreSQL's
    /// numeric, checked against numeric(p,s) as <see cref="CheckNumericRange"/> checks a decimal.
    /// </summary>
    private bool ToNumericDigits(double d, out bool negative, out string digits, out int scale, ref string? failure)
    {
        var text = d.ToString("R", CultureInfo.InvariantCulture);
        (negative, digits, scale) = DecimalDigits(text);
        if (_type.Precision > 0)
        {
            if (scale > _type.Scale)
            {
                failure = $"{text} has more than {_type.Scale} decimal places and {_type.SqlName} would round it";
                return false;
            }

            if (Math.Max(digits.Length - scale, 0) > _type.Precision - _type.Scale)
            {
                failure = $"{text} does not fit {_type.SqlName}";
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// A decimal number's text ("-0.00120", "1.2345E-20", "1E+300") as its sign, its digits without leading zeros
    /// (empty for zero) and its scale without trailing zeros: the number is digits × 10^-scale, and two texts of the
    /// same number give the same triple.
    /// </summary>
    internal static (bool Negative, string Digits, int Scale) DecimalDigits(string text)
    {
        var body = text.AsSpan().Trim();
        var negative = body.Length > 0 && body[0] == '-';
        if (body.Length > 0 && body[0] is '-' or '+')
        {
            body = body[1..];
        }

        var exponent = 0;
        var e = body.IndexOfAny('E', 'e');
        if (e >= 0)
        {
            exponent = int.Parse(body[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            body = body[..e];
        }

        var point = body.IndexOf('.');
        var fraction = point < 0 ? 0 : body.Length - point - 1;
        var all = point < 0 ? body.ToString() : string.Concat(body[..point], body[(point + 1)..]);
        if (all.AsSpan().TrimStart('0').IsEmpty)
        {
            // Zero, whatever its exponent ('0e999999999' would otherwise spell out its zeros).
            return (false, "", 0);
        }

        var scale = fraction - exponent;
        if (scale < 0)
        {
            all += new string('0', -scale);
            scale = 0;
        }

        all = all.TrimStart('0');
        while (scale > 0 && all.Length > 0 && all[^1] == '0')
        {
            all = all[..^1];
            scale--;
        }

        return (negative && all.Length > 0, all, all.Length == 0 ? 0 : scale);
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

    private bool CheckText(ReadOnlySpan<byte> utf8, ref string? failure)
    {
        if (utf8.Contains((byte)0))
        {
            failure = "the text contains a NUL character, which PostgreSQL text cannot store";
            return false;
        }

        if (!Utf8.IsValid(utf8))
        {
            failure = "the text is not valid UTF-8, or in a UTF-16 database not valid UTF-16 (a lone surrogate) (SQLite stores whatever it is given; PostgreSQL refuses it)";
            return false;
        }

        // PostgreSQL would convert it to a database encoding that lacks one of its characters, and fail the whole COPY.
        if (_encoding is not null && !_encoding.CanHold(utf8, out var missing))
        {
            failure = _encoding.Refusal(missing);
            return false;
        }

        if (_type.Precision > 0 && utf8.Length > _type.Precision)
        {
            // PostgreSQL counts characters (code points): every byte that does not continue a sequence starts one.
            var characters = 0;
            foreach (var b in utf8)
            {
                characters += (b & 0xC0) != 0x80 ? 1 : 0;
            }

            if (characters > _type.Precision)
            {
                failure = $"the text is longer than the {_type.Precision} characters of {_type.SqlName}";
                return false;
            }
        }

        return true;
    }

    private bool ToText(SourceRows reader, int ordinal, StorageClass storage, out string value, ref string? failure)
    {
        value = storage switch
        {
            StorageClass.Text => reader.String(ordinal),
            StorageClass.Integer => reader.Int64(ordinal).ToString(CultureInfo.InvariantCulture),
            StorageClass.Real => FormatReal(reader.Double(ordinal)),
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

    private static bool ToBoolean(SourceRows reader, int ordinal, StorageClass storage, out bool value, ref string? failure)
    {
        value = false;
        switch (storage)
        {
            case StorageClass.Integer:
                var n = reader.Int64(ordinal);
                if (n is 0 or 1)
                {
                    value = n == 1;
                    return true;
                }

                failure = $"{n.ToString(CultureInfo.InvariantCulture)} is neither 0 nor 1";
                return false;
            case StorageClass.Real:
                var d = reader.Double(ordinal);
                if (d is 0 or 1)
                {
                    value = d == 1;
                    return true;
                }

                failure = $"{FormatReal(d)} is neither 0 nor 1";
                return false;
            case StorageClass.Text:
                var s = reader.String(ordinal);
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

    private bool ToDateTime(SourceRows reader, int ordinal, StorageClass storage, out DateTime value, ref string? failure)
    {
        value = default;
        switch (storage)
        {
            case StorageClass.Integer:
                // Unix time in seconds, as SQLite's unixepoch() and datetime(x, 'unixepoch') use it.
                var seconds = reader.Int64(ordinal);
                if (seconds is >= -62135596800 and < 253402300800)
                {
                    value = _unixEpoch.AddSeconds(seconds);
                    return true;
                }

                failure = $"{seconds} as Unix time is outside the years 1 to 9999";
                return false;
            case StorageClass.Real:
                // A Julian day number, as SQLite's julianday() produces, read as SQLite's date functions read it: to
                // the millisecond (julianday('2024-03-01 10:00:00') is 2460370.9166666665, which is 10:00:00.000 to
                // SQLite; computing microseconds from the double would give 09:59:59.999987).
                var julian = reader.Double(ordinal);
                var millis = Math.Floor((julian * 86_400_000d) + 0.5) - 210_866_760_000_000d;
                if (millis is >= -62135596800_000d and < 253402300800_000d)
                {
                    value = _unixEpoch.AddTicks((long)millis * TimeSpan.TicksPerMillisecond);
                    return true;
                }

                failure = $"{julian.ToString("R", CultureInfo.InvariantCulture)} as a Julian day is outside the years 1 to 9999";
                return false;
            case StorageClass.Text:
                if (TryParseIso(reader.Chars(ordinal), out value, out var reason))
                {
                    return true;
                }

                failure = $"the text '{Shorten(reader.String(ordinal))}' {reason}";
                return false;
            default:
                failure = $"a BLOB value cannot be stored in {_type.SqlName}";
                return false;
        }
    }

    /// <summary>
    /// Parses ISO 8601 date or date-time text as SQLite's date functions write it:
    /// <c>YYYY-MM-DD[(T| )HH:MM[:SS[.F{1,9}]]][ ][Z|±HH[[:]MM]]</c>. Text with a zone offset becomes its UTC
    /// instant; text without one is taken as written. A hand-written parser: it runs for every date value of a load.
    /// </summary>
    public static bool TryParseIso(string text, out DateTime value, out string reason)
    {
        ArgumentNullException.ThrowIfNull(text);
        return TryParseIso(text.AsSpan(), out value, out reason);
    }

    /// <summary>Parses ISO 8601 date or date-time text (see the string overload).</summary>
    public static bool TryParseIso(ReadOnlySpan<char> text, out DateTime value, out string reason)
    {
        value = default;
        reason = "is not an ISO 8601 date or date-time (YYYY-MM-DD[ HH:MM[:SS[.fff]]][Z|±HH:MM])";
        var s = text.Trim();
        var p = 0;
        if (!Digits(s, ref p, 4, out var year) || !Expect(s, ref p, '-') || !Digits(s, ref p, 2, out var month) || !Expect(s, ref p, '-') || !Digits(s, ref p, 2, out var day))
        {
            // A year of five or more digits is ISO-shaped but beyond what PostgreSQL's timestamp and .NET hold here
            // ('10000-01-01', as a winning PostgreSQL version writes it into the file): say so, not "not ISO 8601".
            var digits = 0;
            while (digits < s.Length && char.IsAsciiDigit(s[digits]))
            {
                digits++;
            }

            if (digits > 4 && digits < s.Length && s[digits] == '-')
            {
                reason = "is outside the years 1 to 9999";
            }

            return false;
        }

        int hour = 0, minute = 0, second = 0;
        long ticks = 0;
        if (p < s.Length && (s[p] == 'T' || s[p] == ' ') && p + 1 < s.Length && char.IsAsciiDigit(s[p + 1]))
        {
            p++;
            if (!Digits(s, ref p, 2, out hour) || !Expect(s, ref p, ':') || !Digits(s, ref p, 2, out minute))
            {
                return false;
            }

            if (p < s.Length && s[p] == ':')
            {
                p++;
                if (!Digits(s, ref p, 2, out second))
                {
                    return false;
                }

                if (p < s.Length && s[p] == '.')
                {
                    p++;
                    var start = p;
                    while (p < s.Length && char.IsAsciiDigit(s[p]))
                    {
                        if (p - start < 7)
                        {
                            ticks = (ticks * 10) + (s[p] - '0');
                        }
                        else if (s[p] != '0' || p - start >= 9)
                        {
                            reason = p - start >= 9 ? reason : "has more fractional digits than the microseconds PostgreSQL stores";
                            return false;
                        }

                        p++;
                    }

                    var count = p - start;
                    if (count == 0)
                    {
                        return false;
                    }

                    for (var i = count; i < 7; i++)
                    {
                        ticks *= 10;
                    }

                    if (ticks % 10 != 0)
                    {
                        reason = "has more fractional digits than the microseconds PostgreSQL stores";
                        return false;
                    }
                }
            }
        }

        var offset = TimeSpan.Zero;
        while (p < s.Length && s[p] == ' ')
        {
            p++;
        }

        if (p < s.Length)
        {
            if (s[p] is 'Z' or 'z')
            {
                p++;
            }
            else if (s[p] is '+' or '-')
            {
                var sign = s[p] == '-' ? -1 : 1;
                p++;
                var offsetMinutes = 0;
                if (!Digits(s, ref p, 2, out var offsetHours))
                {
                    return false;
                }

                if (p < s.Length)
                {
                    if (s[p] == ':')
                    {
                        p++;
                    }

                    if (!Digits(s, ref p, 2, out offsetMinutes))
                    {
                        return false;
                    }
                }

                // SQLite's own date functions read no offset beyond ±14:59 (and no minutes beyond 59).
                if (offsetHours > 14 || offsetMinutes > 59)
                {
                    reason = "has a zone offset that is not a valid time zone (at most ±14:59)";
                    return false;
                }

                offset = new TimeSpan(sign * offsetHours, sign * offsetMinutes, 0);
            }

            if (p != s.Length)
            {
                return false;
            }
        }

        if (month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(Math.Max(year, 1), month) || year < 1 || hour > 23 || minute > 59 || second > 59)
        {
            reason = "is not a valid calendar date or time";
            return false;
        }

        var local = new DateTime(year, month, day, hour, minute, second, DateTimeKind.Unspecified).AddTicks(ticks);
        // Its zone offset can carry the instant past the first or the last day .NET and PostgreSQL's timestamp share.
        if (offset > TimeSpan.Zero ? local.Ticks - DateTime.MinValue.Ticks < offset.Ticks : DateTime.MaxValue.Ticks - local.Ticks < -offset.Ticks)
        {
            reason = "is outside the years 1 to 9999 once converted to UTC";
            return false;
        }

        value = local - offset;
        reason = "";
        return true;
    }

    private static bool Digits(ReadOnlySpan<char> s, ref int p, int count, out int value)
    {
        value = 0;
        if (p + count > s.Length)
        {
            return false;
        }

        for (var i = 0; i < count; i++)
        {
            var c = s[p + i];
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }

            value = (value * 10) + (c - '0');
        }

        p += count;
        return true;
    }

    private static bool Expect(ReadOnlySpan<char> s, ref int p, char c)
    {
        if (p < s.Length && s[p] == c)
        {
            p++;
            return true;
        }

        return false;
    }

    private static string Preview(SourceRows reader, int ordinal, StorageClass storage) => storage switch
    {
        StorageClass.Text => Shorten(reader.String(ordinal)),
        StorageClass.Integer => reader.Int64(ordinal).ToString(CultureInfo.InvariantCulture),
        StorageClass.Real => reader.Double(ordinal).ToString("R", CultureInfo.InvariantCulture),
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
