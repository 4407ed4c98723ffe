using System.Runtime.InteropServices;

namespace DbSync.Core.Watching;

/// <summary>
/// Which file a path names now: its device and inode on Linux, its creation time elsewhere. Continuous mode compares it
/// with the file its polling connection has open, which stays the old file after a delete and restore or an
/// <c>mv new.sqlite db.sqlite</c> deploy.
/// </summary>
internal static class FileIdentity
{
    private const int AtFdCwd = -100;
    private const uint StatxIno = 0x100;
    private static bool _noStatx;

    /// <summary>The identity of the file at <paramref name="path"/>, or null when nothing is there.</summary>
    public static string? Of(string path)
    {
        if (OperatingSystem.IsLinux() && !_noStatx)
        {
            // struct statx has one layout on every Linux architecture, unlike struct stat: stx_ino at 32,
            // stx_dev_major and stx_dev_minor at 136 and 140.
            var buffer = new byte[256];
            try
            {
                if (NativeMethods.statx(AtFdCwd, path, 0, StatxIno, buffer) == 0)
                {
                    return $"{BitConverter.ToUInt32(buffer, 136)}:{BitConverter.ToUInt32(buffer, 140)}:{BitConverter.ToUInt64(buffer, 32)}";
                }

                if (Marshal.GetLastPInvokeError() != 38)
                {
                    return null; // ENOENT and the like: no file to compare
                }
            }
            catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
            {
                // A C library without statx (glibc before 2.28): the creation time below.
            }

            _noStatx = true;
        }

        return File.Exists(path) ? File.GetCreationTimeUtc(path).Ticks.ToString(System.Globalization.CultureInfo.InvariantCulture) : null;
    }

    /// <summary>
    /// Whether <paramref name="path"/> names something other than a regular file or a folder: a character device
    /// (<c>/dev/null</c>, a terminal), a pipe or a socket (<c>/dev/stdout</c> of a piped process). Linux only (statx's
    /// <c>stx_mode</c> at offset 28); false elsewhere and when nothing is there.
    /// </summary>
    public static bool IsSpecial(string path)
    {
        if (!OperatingSystem.IsLinux() || _noStatx)
        {
            return false;
        }

        var buffer = new byte[256];
        try
        {
            if (NativeMethods.statx(AtFdCwd, path, 0, StatxType, buffer) != 0)
            {
                return false;
            }
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }

        var type = BitConverter.ToUInt16(buffer, 28) & 0xF000;
        return type is not (0x8000 or 0x4000); // S_IFREG, S_IFDIR
    }

    private const uint StatxType = 0x1;

    private static class NativeMethods
    {
        [DllImport("libc", SetLastError = true, ExactSpelling = true)]
        internal static extern int statx(int dirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, [Out] byte[] buffer);
    }
}
