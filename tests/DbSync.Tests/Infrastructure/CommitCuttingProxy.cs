using System.Runtime.CompilerServices;
using System.Net.Sockets;
using System.Text;

namespace DbSync.Tests.Infrastructure;

/// <summary>
/// A TCP relay in front of the test server that, once, forwards a client's COMMIT and then cuts the connection before
/// PostgreSQL's answer gets back: a network failure at the worst moment. Other connections are relayed untouched, or,
/// with <c>refuseAfterCut</c>, closed at once after the cut: the network stays down, and nobody can ask PostgreSQL
/// whether the COMMIT happened. With <c>commitDelay</c>, the client is cut off as soon as it sends the COMMIT, and the
/// COMMIT reaches PostgreSQL only that long afterwards (a network or a pooler that delivers it late).
/// </summary>
internal sealed class CommitCuttingProxy : TcpRelay
{
    private static readonly byte[] _commit = Encoding.ASCII.GetBytes("COMMIT\0");
    private readonly bool _refuseAfterCut;
    private readonly TimeSpan? _commitDelay;
    private int _armed = 1;

    public CommitCuttingProxy(string host, int port, bool refuseAfterCut = false, TimeSpan? commitDelay = null)
        : base(host, port)
    {
        _refuseAfterCut = refuseAfterCut;
        _commitDelay = commitDelay;
        Start();
    }

    /// <summary>True once a COMMIT was cut.</summary>
    public bool Cut => Volatile.Read(ref _armed) == 0;

    protected override bool RefusesClients => _refuseAfterCut && Cut;

    protected override async Task RelayAsync(TcpClient client, TcpClient server)
    {
        var cutting = new StrongBox<bool>();
        var toClient = PumpAsync(server.GetStream(), client.GetStream(), watch: false, cutting, client, server);
        var toServer = PumpAsync(client.GetStream(), server.GetStream(), watch: true, cutting, client, server);
        await Task.WhenAny(toClient, toServer);
    }

    private async Task PumpAsync(Stream from, Stream to, bool watch, StrongBox<bool> cutting, TcpClient client, TcpClient server)
    {
        var buffer = new byte[65536];
        try
        {
            while (true)
            {
                var read = await from.ReadAsync(buffer);
                if (read == 0 || (!watch && Volatile.Read(ref cutting.Value)))
                {
                    return;
                }

                var cut = watch && buffer.AsSpan(0, read).IndexOf(_commit) >= 0 && Interlocked.Exchange(ref _armed, 0) == 1;
                if (cut)
                {
                    // Nothing more reaches the client: PostgreSQL's answer to the COMMIT is dropped.
                    Volatile.Write(ref cutting.Value, true);
                }

                if (cut && _commitDelay is { } delay)
                {
                    client.Client.Close(0);
                    await Task.Delay(delay);
                }

                await to.WriteAsync(buffer.AsMemory(0, read));
                if (cut)
                {
                    // Let PostgreSQL commit, then drop both sides.
                    await Task.Delay(500);
                    client.Client.Close(0);
                    server.Client.Close(0);
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException)
        {
            // A side closed.
        }
    }
}
