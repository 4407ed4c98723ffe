using DbSync.PowerShell.Infrastructure;

namespace DbSync.PowerShell.Tests;

/// <summary>
/// The verbose, warning, What-if, Confirm and progress text the cmdlets write passes through Redaction (DbSyncCommand
/// hides Cmdlet's Write*/ShouldProcess with redacting ones): a connection string given as the path or as a value keeps
/// its password out of it, and the words around a quoted value stay.
/// </summary>
public sealed class RedactionTests
{
    [Theory]
    [InlineData("Sync '/data/a.sqlite' to PostgreSQL schema 'Host=h;Password=Sekr1tPW'.",
        "Sync '/data/a.sqlite' to PostgreSQL schema 'Host=h;Password=***'.")]
    [InlineData("Syncing '/cwd/Host=127.0.0.1;Username=u;Password=abbPGt7;Database=m1' to schema 'public'.",
        "Syncing '/cwd/Host=127.0.0.1;Username=u;Password=***;Database=m1' to schema 'public'.")]
    [InlineData("Restore run log entries into '/data/a.sqlite' from '/cwd/Host=h;PWD=abc'.",
        "Restore run log entries into '/data/a.sqlite' from '/cwd/Host=h;PWD=***'.")]
    [InlineData("/cwd/Host=h;Password=abc;Database=d", "/cwd/Host=h;Password=***;Database=d")]
    [InlineData("Start-DbSync Host=h;Password=abc", "Start-DbSync Host=h;Password=***")]
    [InlineData("Sync '/data/a.sqlite' to PostgreSQL schema 'public'.", "Sync '/data/a.sqlite' to PostgreSQL schema 'public'.")]
    [InlineData("The schema name 'Host=h;Password=***' holds a password.", "The schema name 'Host=h;Password=***' holds a password.")]
    public void Passwords_are_redacted_and_the_words_around_them_stay(string text, string shown) =>
        Assert.Equal(shown, Redaction.Text(text));

    [Fact]
    public void A_password_in_an_unevenly_quoted_text_is_still_redacted()
    {
        var shown = Redaction.Text("Sync '/cwd/it's/Host=h;Password=Sekr1tPW' to PostgreSQL schema 'public'.");
        Assert.DoesNotContain("Sekr1tPW", shown, StringComparison.Ordinal);
    }
}
