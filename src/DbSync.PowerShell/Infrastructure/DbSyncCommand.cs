using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Management.Automation;
using DbSync.Core;

namespace DbSync.PowerShell.Infrastructure;

/// <summary>
/// What every DbSync cmdlet shares: the runner that keeps Write* calls on the pipeline thread and cancels Core on
/// Ctrl+C, path resolution, and the mapping of Core's failures to error records: non-terminating for a failure about one input item, terminating for a mistake in the parameters. It holds no field of a
/// DbSync.Core type: PowerShell reflects over cmdlet types before the module's load context can resolve Core.
/// </summary>
public abstract class DbSyncCommand : PSCmdlet
{
    internal CoreRunner Runner { get; } = new();

    /// <summary>
    /// ShouldProcess for a High-impact cmdlet with a -Force switch: -Force stands for -Confirm:$false, as with
    /// Remove-Item, so an unattended job is never blocked by the prompt; -WhatIf, and an explicit -Confirm, still win.
    /// </summary>
    protected bool ShouldProcessUnlessForced(string target, string action, bool force)
    {
        var whatIf = MyInvocation.BoundParameters.TryGetValue("WhatIf", out var value)
            ? value is SwitchParameter s && s.IsPresent
            : LanguagePrimitives.IsTrue(GetVariableValue("WhatIfPreference"));
        if (force && !whatIf && !MyInvocation.BoundParameters.ContainsKey("Confirm"))
        {
            return true;
        }

        return ShouldProcess(target, action);
    }

    /// <summary>
    /// Whether the caller gave <paramref name="parameter"/> (typed, splatted or piped), rather than PowerShell binding
    /// it from $PSDefaultParameterValues. Both land in BoundParameters; a parameter an entry of $PSDefaultParameterValues
    /// names counts as not given by the caller, so a check that refuses it alone ("-X goes with -Y") never refuses a
    /// value the user did not type. The price: the same parameter typed while such a default exists is not refused.
    /// </summary>
    protected bool GivenByCaller(string parameter) =>
        MyInvocation.BoundParameters.ContainsKey(parameter)
        && !DefaultParameterValues.Name(GetVariableValue("PSDefaultParameterValues") as System.Collections.IDictionary,
            MyInvocation.MyCommand.Name, parameter,
            MyInvocation.MyCommand.Parameters.TryGetValue(parameter, out var metadata) ? metadata.Aliases : []);

    /// <summary>
    /// The files <paramref name="paths"/> name. A path that resolves to nothing, not to the file system, or not at all
    /// (a drive or provider that does not exist) is a non-terminating error about that path: the others are still
    /// processed, and -ErrorAction decides.
    /// </summary>
    protected IReadOnlyList<string> ResolveFiles(string[] paths, bool literal) =>
        PathResolver.ResolveEach(new SessionPathProvider(this), paths, literal, ex => WriteError(Errors.From(ex, null)));

    /// <summary>
    /// A file path parameter other than -Path (-LogPath, -BackupPath) resolved against PowerShell's location. A path
    /// on another provider (env:, function:) is a terminating usage error naming the parameter: resolving it anyway
    /// gave a file of that name in the process's working folder.
    /// </summary>
    protected string FileSystemPath(string path, string parameter)
    {
        string full, provider;
        try
        {
            (full, provider) = new SessionPathProvider(this).Unresolved(path);
        }
        catch (Exception ex) when (PathResolver.IsPathFailure(ex))
        {
            throw Terminating(Errors.Usage($"{parameter} '{path}' cannot be resolved: {ex.Message}", path));
        }

        if (!string.Equals(provider, "FileSystem", StringComparison.OrdinalIgnoreCase))
        {
            throw Terminating(Errors.Usage($"{parameter} '{path}' is on the {provider} provider; it needs a file system path.", path));
        }

        return full;
    }

    /// <summary>
    /// The run log backup a -LogPath or -BackupPath names, else DBSYNC_LOG_PATH's, both resolved against PowerShell's
    /// location (left to Core, a relative DBSYNC_LOG_PATH meant the process's working folder, which Set-Location does
    /// not change); null for Core's default beside the file. A blank DBSYNC_LOG_PATH counts as unset, as Core and the
    /// CLI take it, rather than a path resolved in the PowerShell location; so does a blank -LogPath or -BackupPath, as
    /// the CLI's --log-path "  " (it was a file named by the spaces in the PowerShell location).
    /// </summary>
    protected string? LogPathOrDefault(string? path, string parameter) =>
        Given(path) is { } given ? FileSystemPath(given, "-" + parameter)
        : LogPathVariable() is { } variable ? FileSystemPath(variable, DbSync.Core.Bookkeeping.RunLog.LogPathVariable)
        : null;

    /// <summary>
    /// DBSYNC_LOG_PATH resolved against PowerShell's location, or null when it is unset or blank: the backup Start-DbSync
    /// writes when no -LogPath is given, which Get-DbSyncLog and Get-DbSyncStatus read to show how a run still recorded
    /// Running ended.
    /// </summary>
    protected string? LogPathFromEnvironment() => LogPathOrDefault(null, DbSync.Core.Bookkeeping.RunLog.LogPathVariable);

    /// <summary>A path parameter's value, or null when it is not given or blank.</summary>
    internal static string? Given(string? path) => string.IsNullOrWhiteSpace(path) ? null : path;

    /// <summary>DBSYNC_LOG_PATH, or null when it is unset, empty or blank.</summary>
    internal static string? LogPathVariable() => Connection.EnvironmentSetting(DbSync.Core.Bookkeeping.RunLog.LogPathVariable);

    /// <summary>Runs a Core operation that is not about one input item; a failure that stops it is a terminating error.</summary>
    protected T RunCore<T>(object? target, Func<CancellationToken, Task<T>> operation)
    {
        try
        {
            return Runner.Run(operation);
        }
        catch (DbSyncException ex)
        {
            throw Terminating(Errors.From(ex, target));
        }
    }

    /// <summary>
    /// Runs a Core operation for one input item (usually a file). A failure about that item (missing, locked, damaged,
    /// a target that refuses it) is a non-terminating error, so the pipeline goes on with the next item unless
    /// -ErrorAction Stop makes it terminating; a mistake in the parameters, which every item would repeat, ends the
    /// command (<see cref="Errors.EndsTheCommand"/>).
    /// </summary>
    /// <returns>False when it failed; the error was written.</returns>
    protected bool TryRunCore<T>(object? target, Func<CancellationToken, Task<T>> operation, [MaybeNullWhen(false)] out T result)
    {
        try
        {
            result = Runner.Run(operation);
            return true;
        }
        catch (DbSyncException ex) when (!Errors.EndsTheCommand(ex))
        {
            WriteError(Errors.From(ex, target));
            result = default;
            return false;
        }
        catch (DbSyncException ex)
        {
            throw Terminating(Errors.From(ex, target));
        }
    }

    // Every verbose, warning, What-if, Confirm and progress text a DbSync cmdlet writes passes through Redaction: these
    // hide Cmdlet's own methods, so a cmdlet that builds such text from a path or a parameter value cannot leak the
    // password of a connection string given in its place. (Cmdlet's methods are not virtual; called through a Cmdlet
    // reference they would not redact, and no DbSync code calls them so.)

    /// <summary>Writes a verbose message, any password in it redacted.</summary>
    public new void WriteVerbose(string text) => base.WriteVerbose(Redaction.Text(text));

    /// <summary>Writes a warning, any password in it redacted.</summary>
    public new void WriteWarning(string text) => base.WriteWarning(Redaction.Text(text));

    /// <summary>Writes a progress record, any password in its activity, status and operation redacted.</summary>
    public new void WriteProgress(ProgressRecord progressRecord)
    {
        ArgumentNullException.ThrowIfNull(progressRecord);
        progressRecord.Activity = Redaction.Text(progressRecord.Activity);
        progressRecord.StatusDescription = Redaction.Text(progressRecord.StatusDescription);
        if (progressRecord.CurrentOperation is not null)
        {
            progressRecord.CurrentOperation = Redaction.Text(progressRecord.CurrentOperation);
        }

        base.WriteProgress(progressRecord);
    }

    /// <summary>ShouldProcess with any password in the target redacted (What-if, Confirm and verbose text).</summary>
    public new bool ShouldProcess(string target) => base.ShouldProcess(Redaction.Text(target));

    /// <summary>ShouldProcess with any password in the target and the action redacted.</summary>
    public new bool ShouldProcess(string target, string action) => base.ShouldProcess(Redaction.Text(target), Redaction.Text(action));

    /// <summary>ShouldProcess with any password in the texts redacted.</summary>
    public new bool ShouldProcess(string verboseDescription, string verboseWarning, string caption) =>
        base.ShouldProcess(Redaction.Text(verboseDescription), Redaction.Text(verboseWarning), Redaction.Text(caption));

    /// <summary>ShouldProcess with any password in the texts redacted.</summary>
    public new bool ShouldProcess(string verboseDescription, string verboseWarning, string caption, out ShouldProcessReason shouldProcessReason) =>
        base.ShouldProcess(Redaction.Text(verboseDescription), Redaction.Text(verboseWarning), Redaction.Text(caption), out shouldProcessReason);

    /// <summary>A warning from Core, with the cmdlets' names for the CLI's options and commands (see <see cref="Wording"/>).</summary>
    protected void WriteCoreWarning(string warning) => WriteWarning(Wording.ForPowerShell(warning));

    /// <summary>Throws a terminating error (the return value only lets callers write <c>throw</c>).</summary>
    protected Exception Terminating(ErrorRecord record)
    {
        ThrowTerminatingError(record);
        return new UnreachableException();
    }

    /// <inheritdoc />
    protected override void StopProcessing() => Runner.Stop();

    /// <inheritdoc />
    protected override void EndProcessing() => Runner.Dispose();
}
