using System.Diagnostics;
using System.Management.Automation;
using DbSync.Core;

namespace DbSync.PowerShell.Infrastructure;

/// <summary>
/// What every DbSync cmdlet shares: the runner that keeps Write* calls on the pipeline thread and cancels Core on
/// Ctrl+C, path resolution, and the mapping of Core's failures to terminating errors. It holds no field of a
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

    /// <summary>The files <paramref name="paths"/> name; a path that resolves to nothing is a terminating error.</summary>
    protected IReadOnlyList<string> ResolveFiles(string[] paths, bool literal)
    {
        try
        {
            return PathResolver.Resolve(this, paths, literal);
        }
        catch (DbSyncException ex)
        {
            throw Terminating(Errors.From(ex, null));
        }
    }

    /// <summary>Runs a Core operation; a failure that stops it is a terminating error about <paramref name="target"/> (usually the file).</summary>
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
