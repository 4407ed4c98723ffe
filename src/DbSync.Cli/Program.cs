var stdout = new DbSync.Cli.GuardedWriter(Console.Out);
var stderr = new DbSync.Cli.GuardedWriter(Console.Error);
var code = await DbSync.Cli.CliApp.RunAsync(args, stdout, stderr);
if (stdout.Lost is { } lost)
{
    // Said where it may still be read; the exit code is the command's, since the run itself did what it did.
    stderr.WriteLine($"dbsync: stdout could not be written ({lost}); what the command printed there is lost; the exit code is the command's own.");
}

return code;
