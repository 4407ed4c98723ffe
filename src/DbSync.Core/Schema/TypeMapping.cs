using System.Globalization;
using System.Text.RegularExpressions;

namespace DbSync.Core.Schema;

/// <summary>The PostgreSQL column types DbSync writes. Anything else in an existing target table is a mismatch.</summary>
public enum PgKind
{
    /// <summary>smallint</summary>
    Int16,
    /// <summary>integer</summary>
    Int32,
    /// <summary>bigint</summary>
    Int64,
    /// <summary>real</summary>
    Float4,
    /// <summary>double precision</summary>
    Float8,
    /// <summary>numeric, with or without precision and scale</summary>
    Numeric,
    /// <summary>text, varchar(n), char(n)</summary>
    Text,
    /// <summary>bytea</summary>
    Bytea,
    /// <summary>boolean</summary>
    Boolean,
    /// <summary>date</summary>
    Date,
    /// <summary>timestamp without time zone</summary>
    Timestamp,
    /// <summary>timestamp with time zone</summary>
    TimestampTz,
}

/// <summary>A PostgreSQL column type.</summary>
/// <param name="Kind">The family.</param>
/// <param name="Precision">numeric precision or varchar/char length; 0 when unconstrained.</param>
/// <param name="Scale">numeric scale.</param>
public sealed record PgType(PgKind Kind, int Precision = 0, int Scale = 0)
{
    /// <summary>char(n), blank-padded, rather than varchar(n): only the name shown differs.</summary>
    public bool Fixed { get; init; }

    /// <summary>
    /// The fractional digits of a second a timestamp(p) or timestamptz(p) keeps (0 to 5); null for PostgreSQL's full
    /// microseconds. PostgreSQL rounds a value with more.
    /// </summary>
    public int? FractionalDigits { get; init; }

    /// <summary>The type as PostgreSQL's format_type prints it.</summary>
    public string SqlName => Kind switch
    {
        PgKind.Int16 => "smallint",
        PgKind.Int32 => "integer",
        PgKind.Int64 => "bigint",
        PgKind.Float4 => "real",
        PgKind.Float8 => "double precision",
        PgKind.Numeric => Precision > 0 ? string.Create(CultureInfo.InvariantCulture, $"numeric({Precision},{Scale})") : "numeric",
        PgKind.Text => Precision > 0 ? string.Create(CultureInfo.InvariantCulture, $"{(Fixed ? "character" : "character varying")}({Precision})") : "text",
        PgKind.Bytea => "bytea",
        PgKind.Boolean => "boolean",
        PgKind.Date => "date",
        PgKind.Timestamp => FractionalDigits is { } p ? string.Create(CultureInfo.InvariantCulture, $"timestamp({p}) without time zone") : "timestamp without time zone",
        PgKind.TimestampTz => FractionalDigits is { } q ? string.Create(CultureInfo.InvariantCulture, $"timestamp({q}) with time zone") : "timestamp with time zone",
        _ => throw new ArgumentOutOfRangeException(nameof(Kind)),
    };

    /// <inheritdoc />
    public override string ToString() => SqlName;
}

/// <summary>SQLite's column affinities (BLOB is also "no affinity", a column without a declared type).</summary>
public enum SqliteAffinity
{
    /// <summary>INTEGER affinity.</summary>
    Integer,
    /// <summary>TEXT affinity.</summary>
    Text,
    /// <summary>BLOB affinity, or none.</summary>
    Blob,
    /// <summary>REAL affinity.</summary>
    Real,
    /// <summary>NUMERIC affinity.</summary>
    Numeric,
}

/// <summary>
/// Maps SQLite declared types to PostgreSQL types, and decides which existing PostgreSQL types can take a source
/// column's values. The rules are written down in docs/type-mapping.md; keep the two in step.
/// </summary>
public static partial class TypeMapping
{
    [GeneratedRegex(@"\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)")]
    private static partial Regex Arguments();

    /// <summary>The PostgreSQL type DbSync creates for a SQLite declared type.</summary>
    public static PgType Map(string declaredType)
    {
        ArgumentNullException.ThrowIfNull(declaredType);
        var t = declaredType.Trim().ToUpperInvariant();
        if (t.Length == 0)
        {
            return new PgType(PgKind.Text);
        }

        var paren = t.IndexOf('(', StringComparison.Ordinal);
        var baseName = (paren >= 0 ? t[..paren] : t).Trim();
        // The name without its arguments, wherever they stand: PostgreSQL writes TIMESTAMP(3) WITH TIME ZONE.
        var close = paren >= 0 ? t.IndexOf(')', paren) : -1;
        var name = string.Join(' ', (close > paren ? t[..paren] + " " + t[(close + 1)..] : baseName)
            .Split(' ', '\t', '\r', '\n').Where(w => w.Length > 0));

        if (name is "BOOLEAN" or "BOOL")
        {
            return new PgType(PgKind.Boolean);
        }

        if (name is "DATETIME" or "TIMESTAMP" or "TIMESTAMP WITHOUT TIME ZONE")
        {
            return new PgType(PgKind.Timestamp);
        }

        if (name is "TIMESTAMPTZ" or "TIMESTAMP WITH TIME ZONE")
        {
            return new PgType(PgKind.TimestampTz);
        }

        if (name == "DATE")
        {
            return new PgType(PgKind.Date);
        }

        // From here on SQLite's own affinity rules.
        switch (Affinity(t))
        {
            case SqliteAffinity.Integer:
                return new PgType(PgKind.Int64);
            case SqliteAffinity.Text:
                return new PgType(PgKind.Text);
            case SqliteAffinity.Blob:
                return new PgType(PgKind.Bytea);
            case SqliteAffinity.Real:
                return new PgType(PgKind.Float8);
        }

        if (baseName is "NUMERIC" or "DECIMAL")
        {
            var match = Arguments().Match(t);
            if (match.Success)
            {
                var precision = int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
                var scale = match.Groups[2].Success ? int.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture) : 0;
                if (precision is >= 1 and <= 1000 && scale <= precision)
                {
                    return new PgType(PgKind.Numeric, precision, scale);
                }
            }

            return new PgType(PgKind.Numeric);
        }

        // Any other name (JSON, UUID, MONEY, TIME, ...) has NUMERIC affinity in SQLite but usually holds text: text
        // takes every value as the file holds it (SQLite itself stores number-looking text as a number).
        return new PgType(PgKind.Text);
    }

    /// <summary>
    /// SQLite's affinity of a declared type, by its rules in its order (https://sqlite.org/datatype3.html 3.1): INT, then
    /// CHAR/CLOB/TEXT, then BLOB or no type at all, then REAL/FLOA/DOUB, else NUMERIC.
    /// </summary>
    public static SqliteAffinity Affinity(string declaredType)
    {
        ArgumentNullException.ThrowIfNull(declaredType);
        var t = declaredType.Trim().ToUpperInvariant();
        return t.Contains("INT", StringComparison.Ordinal) ? SqliteAffinity.Integer
            : t.Contains("CHAR", StringComparison.Ordinal) || t.Contains("CLOB", StringComparison.Ordinal) || t.Contains("TEXT", StringComparison.Ordinal) ? SqliteAffinity.Text
            : t.Length == 0 || t.Contains("BLOB", StringComparison.Ordinal) ? SqliteAffinity.Blob
            : t.Contains("REAL", StringComparison.Ordinal) || t.Contains("FLOA", StringComparison.Ordinal) || t.Contains("DOUB", StringComparison.Ordinal) ? SqliteAffinity.Real
            : SqliteAffinity.Numeric;
    }

    /// <summary>Parses PostgreSQL's format_type output for the kinds DbSync can write; null for anything else.</summary>
    public static PgType? FromPostgres(string formatted)
    {
        ArgumentNullException.ThrowIfNull(formatted);
        var t = formatted.Trim().ToLowerInvariant();
        var match = Arguments().Match(t);
        int Arg(int group) => match.Success && match.Groups[group].Success ? int.Parse(match.Groups[group].Value, CultureInfo.InvariantCulture) : 0;
        var paren = t.IndexOf('(', StringComparison.Ordinal);
        var name = (paren >= 0 ? t[..paren] + t[(t.IndexOf(')', StringComparison.Ordinal) + 1)..] : t).Trim();
        return name switch
        {
            "smallint" => new PgType(PgKind.Int16),
            "integer" => new PgType(PgKind.Int32),
            "bigint" => new PgType(PgKind.Int64),
            "real" => new PgType(PgKind.Float4),
            "double precision" => new PgType(PgKind.Float8),
            "numeric" => new PgType(PgKind.Numeric, Arg(1), Arg(2)),
            "text" => new PgType(PgKind.Text),
            "character varying" => new PgType(PgKind.Text, Arg(1)),
            "character" => new PgType(PgKind.Text, Arg(1)) { Fixed = true },
            "bytea" => new PgType(PgKind.Bytea),
            "boolean" => new PgType(PgKind.Boolean),
            "date" => new PgType(PgKind.Date),
            // timestamp(6) keeps what timestamp does: DbSync writes microseconds at most.
            "timestamp without time zone" => new PgType(PgKind.Timestamp) { FractionalDigits = match.Success && Arg(1) < 6 ? Arg(1) : null },
            "timestamp with time zone" => new PgType(PgKind.TimestampTz) { FractionalDigits = match.Success && Arg(1) < 6 ? Arg(1) : null },
            _ => null,
        };
    }

    /// <summary>
    /// True when an existing target column of type <paramref name="target"/> can hold the values of a source column
    /// that DbSync would map to <paramref name="mapped"/>. Values are still checked one by one when written.
    /// </summary>
    public static bool IsCompatible(PgType mapped, PgType target)
    {
        ArgumentNullException.ThrowIfNull(mapped);
        ArgumentNullException.ThrowIfNull(target);
        return mapped.Kind switch
        {
            PgKind.Int64 => target.Kind is PgKind.Int16 or PgKind.Int32 or PgKind.Int64 or PgKind.Numeric,
            PgKind.Float8 => target.Kind is PgKind.Float8 or PgKind.Float4 or PgKind.Numeric,
            PgKind.Numeric => target.Kind is PgKind.Numeric or PgKind.Float8,
            PgKind.Text => target.Kind is PgKind.Text,
            PgKind.Bytea => target.Kind is PgKind.Bytea,
            PgKind.Boolean => target.Kind is PgKind.Boolean,
            PgKind.Date => target.Kind is PgKind.Date or PgKind.Timestamp or PgKind.TimestampTz,
            PgKind.Timestamp or PgKind.TimestampTz => target.Kind is PgKind.Timestamp or PgKind.TimestampTz,
            _ => mapped.Kind == target.Kind,
        };
    }
}
