using System.Collections;
using System.Management.Automation;

namespace DbSync.PowerShell.Infrastructure;

/// <summary>
/// What $PSDefaultParameterValues may have bound. PowerShell adds such values to BoundParameters as if typed, and says
/// nowhere which they were; a check that refuses a parameter without another ("-Interval goes with -Continuous") must
/// not refuse one the user never typed, or a profile-wide default ('*-DbSync*:LockTimeout') stops the cmdlet every time.
/// </summary>
internal static class DefaultParameterValues
{
    /// <summary>The key that turns every default off when its value is true.</summary>
    private const string Disabled = "Disabled";

    /// <summary>
    /// Whether an entry of <paramref name="defaults"/> names <paramref name="parameter"/> (or one of its
    /// <paramref name="aliases"/>) of <paramref name="command"/>, as PowerShell's binder matches them: keys
    /// <c>Command:Parameter</c>, both parts trimmed, each may hold wildcards, case-insensitive; none while
    /// <c>Disabled</c> is true. (A key naming the cmdlet by an alias of the user's is not followed.)
    /// </summary>
    public static bool Name(IDictionary? defaults, string command, string parameter, IEnumerable<string> aliases)
    {
        if (defaults is null)
        {
            return false;
        }

        var entries = defaults.Cast<DictionaryEntry>().Where(e => e.Key is string).ToList();
        if (entries.Any(e => string.Equals(((string)e.Key).Trim(), Disabled, StringComparison.OrdinalIgnoreCase) && LanguagePrimitives.IsTrue(e.Value)))
        {
            return false;
        }

        string[] names = [parameter, .. aliases];
        foreach (var key in entries.Select(e => ((string)e.Key).Trim()))
        {
            var colon = key.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                continue;
            }

            var commandPart = key[..colon].Trim();
            var parameterPart = key[(colon + 1)..].Trim();
            if (commandPart.Length == 0 || parameterPart.Length == 0 || !Matches(commandPart, command))
            {
                continue;
            }

            if (names.Any(name => Matches(parameterPart, name)))
            {
                return true;
            }
        }

        return false;
    }

    private static bool Matches(string pattern, string name) => WildcardPattern.Get(pattern, WildcardOptions.IgnoreCase).IsMatch(name);
}
