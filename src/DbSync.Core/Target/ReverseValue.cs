using System.Globalization;
using DbSync.Core.Schema;

namespace DbSync.Core.Target;

/// <summary>
/// Turns a PostgreSQL value back into a SQLite value, for a conflict the target won: integers and reals as such (a NaN
/// real as the text 'NaN'), numerics as an integer or real when that is exact and as text otherwise, booleans as 0/1,
/// bytea as a blob, dates and timestamps as ISO text (<c>YYYY-MM-DD HH:MM:SS[.fff]</c>, timestamps with time zone in UTC).
/// </summary>
internal static class ReverseValue
{
    /// <summary>The SQL that reads a target column as text in a form <see cref="FromText"/> understands.</summary>
    public static string SelectText(string expression, PgType type) => type.Kind switch
    {
        PgKind.TimestampTz => $"to_char({expression} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')",
        PgKind.Timestamp => $"to_char({expression}, 'YYYY-MM-DD HH24:MI:SS.US')",
        PgKind.Date => $"to_char({expression}, 'YYYY-MM-DD')",
        PgKind.Bytea => $"encode({expression}, 'hex')",
        PgKind.Boolean => $"CASE WHEN {expression} THEN '1' ELSE '0' END",
        _ => $"{expression}::text",
    };

    /// <summary>The SQLite value of a column read by <see cref="SelectText"/>.</summary>
    public static object FromText(string text, PgType type)
    {
        switch (type.Kind)
        {
            case PgKind.Int16:
            case PgKind.Int32:
            case PgKind.Int64:
            case PgKind.Boolean:
                return long.Parse(text, CultureInfo.InvariantCulture);
            case PgKind.Float4:
            case PgKind.Float8:
                return text switch
                {
                    "Infinity" => double.PositiveInfinity,
                    "-Infinity" => double.NegativeInfinity,
                    // SQLite has no NaN real (it would store NULL): the text 'NaN', which is what a push reads as NaN.
                    "NaN" => "NaN",
                    _ => double.Parse(text, CultureInfo.InvariantCulture),
                };
            case PgKind.Numeric:
                if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer))
                {
                    return integer;
                }

                if (decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
                {
                    if (number == decimal.Truncate(number) && number >= long.MinValue && number <= long.MaxValue)
                    {
                        return (long)number;
                    }

                    var real = (double)number;
                    if (decimal.TryParse(real.ToString("R", CultureInfo.InvariantCulture), NumberStyles.Float, CultureInfo.InvariantCulture, out var back) && back == number)
                    {
                        return real;
                    }
                }

                return text;
            case PgKind.Bytea:
                return Convert.FromHexString(text);
            case PgKind.Timestamp:
            case PgKind.TimestampTz:
                // Whole seconds stay whole; a fraction keeps only its significant digits.
                return text.EndsWith(".000000", StringComparison.Ordinal) ? text[..^7] : text.TrimEnd('0');
            default:
                return text;
        }
    }
}
