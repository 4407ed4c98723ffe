using System.Text.RegularExpressions;
using DbSync.Core;

namespace DbSync.PowerShell.Infrastructure;

/// <summary>
/// Keeps passwords out of the text the cmdlets write besides their error records (verbose, warning, What-if, Confirm
/// and progress text), as <see cref="Errors.TargetOf"/> keeps them out of the records: a connection string given as the
/// path (arguments swapped) or as -Schema resolves to a value that holds its password, and a job's streams, a
/// transcript and a scheduled job's log keep that text.
/// </summary>
internal static partial class Redaction
{
    // A value the cmdlets quote: redacted on its own, its password ends at the closing quote rather than running, as an
    // unquoted Password= value does, to the next semicolon (the end of the message).
    [GeneratedRegex(@"'(?<value>[^'\n]*)'")]
    private static partial Regex QuotedPattern();

    /// <summary>
    /// <paramref name="text"/> with every Password=/Pwd= value replaced by <c>***</c> (<see cref="Secrets.Redact"/>):
    /// in each single-quoted span first, then in the whole text, which catches a value quoted otherwise or not at all.
    /// </summary>
    public static string Text(string? text) =>
        string.IsNullOrEmpty(text) ? text ?? "" : Secrets.Redact(QuotedPattern().Replace(text, m => $"'{Secrets.Redact(m.Groups["value"].Value)}'"));
}
