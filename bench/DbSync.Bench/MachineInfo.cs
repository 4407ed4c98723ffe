using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Data.Sqlite;

namespace DbSync.Bench;

/// <summary>The machine the figures were measured on, from /proc and the runtime.</summary>
internal sealed record MachineInfo(string Cpu, int Cores, long MemoryBytes, string OperatingSystem, string Runtime, string SqliteVersion,
    bool Virtual, double FreshPageMicroseconds, double MappedPageMicroseconds)
{
    private const int PageSize = 4096;
    private const int ProbePages = 16_384;
    public static MachineInfo Read()
    {
        var cpuinfo = ReadLines("/proc/cpuinfo");
        var cpu = cpuinfo.FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? RuntimeInformation.ProcessArchitecture.ToString();
        var cores = cpuinfo.Count(l => l.StartsWith("processor", StringComparison.Ordinal));
        var memTotal = ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
        var memory = memTotal is null ? 0 : long.Parse(memTotal.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        var os = ReadLines("/etc/os-release").FirstOrDefault(l => l.StartsWith("PRETTY_NAME=", StringComparison.Ordinal))?["PRETTY_NAME=".Length..].Trim('"')
            ?? RuntimeInformation.OSDescription;
        var kernel = ReadLines("/proc/sys/kernel/osrelease").FirstOrDefault();
        var flags = cpuinfo.FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal))?.Split(':', 2)[1].Split(' ', StringSplitOptions.RemoveEmptyEntries) ?? [];
        return new MachineInfo(cpu, cores > 0 ? cores : Environment.ProcessorCount, memory,
            kernel is null ? os : $"{os}, Linux {kernel}", RuntimeInformation.FrameworkDescription, ReadSqliteVersion(),
            flags.Contains("hypervisor"), TimeFreshPages(), TimeMappedPages());
    }

    /// <summary>
    /// The first write to each page of newly allocated memory, in µs a page: a page fault that the kernel (and, in a
    /// virtual machine, the hypervisor) must serve. PostgreSQL's backends and buffers pay it too.
    /// </summary>
    private static unsafe double TimeFreshPages()
    {
        var memory = (byte*)NativeMemory.Alloc((nuint)ProbePages * PageSize);
        try
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            for (var i = 0; i < ProbePages; i++)
            {
                memory[(long)i * PageSize] = 1;
            }

            return clock.Elapsed.TotalMicroseconds / ProbePages;
        }
        finally
        {
            NativeMemory.Free(memory);
        }
    }

    /// <summary>
    /// The first read of each page of shared memory already written, through a new mapping, in µs a page: what a new
    /// PostgreSQL backend pays the first time it touches each page of the shared buffers.
    /// </summary>
    private static unsafe double TimeMappedPages()
    {
        using var shared = System.IO.MemoryMappedFiles.MemoryMappedFile.CreateNew(null, (long)ProbePages * PageSize);
        using (var writer = shared.CreateViewAccessor())
        {
            byte* pointer = null;
            writer.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
            for (var i = 0; i < ProbePages; i++)
            {
                pointer[(long)i * PageSize] = 1;
            }

            writer.SafeMemoryMappedViewHandle.ReleasePointer();
        }

        using var reader = shared.CreateViewAccessor();
        byte* view = null;
        reader.SafeMemoryMappedViewHandle.AcquirePointer(ref view);
        try
        {
            var sum = 0;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            for (var i = 0; i < ProbePages; i++)
            {
                sum += view[(long)i * PageSize];
            }

            var elapsed = clock.Elapsed.TotalMicroseconds;
            GC.KeepAlive(sum);
            return elapsed / ProbePages;
        }
        finally
        {
            reader.SafeMemoryMappedViewHandle.ReleasePointer();
        }
    }

    public string Memory => string.Create(CultureInfo.InvariantCulture, $"{MemoryBytes / (1024.0 * 1024 * 1024):0.0} GiB");

    private static string[] ReadLines(string path) => File.Exists(path) ? File.ReadAllLines(path) : [];

    private static string ReadSqliteVersion()
    {
        using var connection = new SqliteConnection("Data Source=:memory:");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT sqlite_version()";
        return (string)command.ExecuteScalar()!;
    }
}
