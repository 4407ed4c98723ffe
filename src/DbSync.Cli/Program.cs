return await DbSync.Cli.CliApp.RunAsync(args, Console.Out, Console.Error);
