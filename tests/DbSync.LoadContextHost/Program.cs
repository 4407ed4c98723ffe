using System.Reflection;
using System.Runtime.Loader;
using System.Text.Json;
using System.Text.Json.Nodes;
using Npgsql;

// Usage: DbSync.LoadContextHost MODULE_DIR SQLITE_FILE CONNECTION_STRING SCHEMA
// Prints one JSON object describing which assemblies were loaded where and what the sync did.
if (args.Length != 4)
{
    Console.Error.WriteLine("usage: DbSync.LoadContextHost MODULE_DIR SQLITE_FILE CONNECTION_STRING SCHEMA");
    return 2;
}

var (moduleDir, sqlite, connectionString, schema) = (args[0], args[1], args[2], args[3]);

// The host's own, conflicting copy: Npgsql 9 in the default context, as another module would have it.
var hostNpgsql = typeof(NpgsqlConnection).Assembly;
_ = new NpgsqlConnectionStringBuilder(connectionString).Host;

// What PowerShell does on Import-Module: load the root assembly into the default context and run the initializer's
// registration (the initializer type itself needs System.Management.Automation, so its two steps are done here).
var cmdletAssembly = Assembly.LoadFrom(Path.Combine(moduleDir, "DbSync.PowerShell.dll"));
var contextType = cmdletAssembly.GetType("DbSync.PowerShell.Infrastructure.DbSyncLoadContext", throwOnError: true)!;
var context = (AssemblyLoadContext)contextType.GetMethod("ForModule")!.Invoke(null, [moduleDir])!;
var resolve = (Func<AssemblyLoadContext, AssemblyName, Assembly?>)Delegate.CreateDelegate(
    typeof(Func<AssemblyLoadContext, AssemblyName, Assembly?>), context, contextType.GetMethod("ResolveBridge")!);
AssemblyLoadContext.Default.Resolving += resolve;

// The cmdlets' first use of Core: resolved from the default context, through the handler, into the module's context.
var core = AssemblyLoadContext.Default.LoadFromAssemblyName(new AssemblyName("DbSync.Core"));
var requestType = core.GetType("DbSync.Core.SyncRequest", throwOnError: true)!;
var request = Activator.CreateInstance(requestType)!;
requestType.GetProperty("Path")!.SetValue(request, sqlite);
requestType.GetProperty("ConnectionString")!.SetValue(request, connectionString);
requestType.GetProperty("Schema")!.SetValue(request, schema);
var engineType = core.GetType("DbSync.Core.SyncEngine", throwOnError: true)!;
var engine = Activator.CreateInstance(engineType)!;
var sync = engineType.GetMethod("SyncAsync")!;
var task = (Task)sync.Invoke(engine, [request, null, CancellationToken.None])!;
await task;
var result = task.GetType().GetProperty("Result")!.GetValue(task)!;

JsonObject Describe(Assembly assembly) => new()
{
    ["version"] = assembly.GetName().Version?.ToString(),
    ["context"] = AssemblyLoadContext.GetLoadContext(assembly)?.Name,
    ["location"] = assembly.Location,
};

var loadedInModule = context.Assemblies.ToDictionary(a => a.GetName().Name!, a => a);
var report = new JsonObject
{
    ["status"] = result.GetType().GetProperty("Status")!.GetValue(result)!.ToString(),
    ["inserted"] = (long)result.GetType().GetProperty("Inserted")!.GetValue(result)!,
    ["core"] = Describe(core),
    ["hostNpgsql"] = Describe(hostNpgsql),
    ["moduleNpgsql"] = loadedInModule.TryGetValue("Npgsql", out var n) ? Describe(n) : null,
    ["moduleDiagnosticSource"] = loadedInModule.TryGetValue("System.Diagnostics.DiagnosticSource", out var d) ? Describe(d) : null,
    ["moduleSqlite"] = loadedInModule.TryGetValue("Microsoft.Data.Sqlite", out var s) ? Describe(s) : null,
    ["hostDiagnosticSource"] = Describe(typeof(System.Diagnostics.Activity).Assembly),
};
Console.WriteLine(report.ToJsonString(new JsonSerializerOptions { WriteIndented = false }));
return 0;
