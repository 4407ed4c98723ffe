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
    /// <remarks>
    /// A date or timestamp SQLite's ISO text cannot express (infinity, a year before 1) is read as PostgreSQL writes it
    /// ('infinity', '0044-03-15 BC'): SQLite gets that text, which a push then holds back with its reason, rather than
    /// NULL or the year AD that to_char gave.
    /// </remarks>
    public static string SelectText(string expression, PgType type) => type.Kind switch
    {
        PgKind.TimestampTz => Iso(expression, $"to_char({expression} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')", "'0001-01-01 00:00:00+00'::timestamptz"),
        PgKind.Timestamp => Iso(expression, $"to_char({expression}, 'YYYY-MM-DD HH24:MI:SS.US')", "'0001-01-01'::timestamp"),
        PgKind.Date => Iso(expression, $"to_char({expression}, 'YYYY-MM-DD')", "'0001-01-01'::date"),
        PgKind.Bytea => $"encode({expression}, 'hex')",
        // NULL stays NULL: an ELSE made it false, which the next push of the row then sent over PostgreSQL's NULL.
        PgKind.Boolean => $"CASE WHEN {expression} THEN '1' WHEN NOT {expression} THEN '0' END",
        // A real's exact value as a double: its shortest text (0.1) is another double, which a push then refuses for the
        // same real column as "cannot be stored in real without rounding".
        PgKind.Float4 => $"{expression}::float8::text",
        _ => $"{expression}::text",
    };

    private static string Iso(string expression, string iso, string first) =>
        $"CASE WHEN isfinite({expression}) AND {expression} >= {first} THEN {iso} ELSE {expression}::text END";

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

                // Compared digit for digit, not through System.Decimal, which keeps 28 decimal places and would take
                // 0.1000000000000000000000000000001 for 0.1.
                if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var real) && double.IsFinite(real)
                    && ValueWriter.DecimalDigits(text) == ValueWriter.DecimalDigits(real.ToString("R", CultureInfo.InvariantCulture)))
                {
                    return real == Math.Truncate(real) && Math.Abs(real) < 9e15 ? (object)(long)real : real;
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
