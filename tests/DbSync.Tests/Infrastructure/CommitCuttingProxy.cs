using System.Net;
using System.Runtime.CompilerServices;
using System.Net.Sockets;
using System.Text;

namespace DbSync.Tests.Infrastructure;

/// <summary>
/// A TCP relay in front of the test server that, once, forwards a client's COMMIT and then cuts the connection before
/// PostgreSQL's answer gets back: a network failure at the worst moment. Other connections are relayed untouched, or,
/// with <c>refuseAfterCut</c>, closed at once after the cut: the network stays down, and nobody can ask PostgreSQL
/// whether the COMMIT happened.
/// </summary>
internal sealed class CommitCuttingProxy : IDisposable
{
    private static readonly byte[] _commit = Encoding.ASCII.GetBytes("COMMIT\0");
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly string _host;
    private readonly int _port;
    private readonly CancellationTokenSource _stop = new();
    private readonly bool _refuseAfterCut;
    private int _armed = 1;

    public CommitCuttingProxy(string host, int port, bool refuseAfterCut = false)
    {
        (_host, _port, _refuseAfterCut) = (host, port, refuseAfterCut);
        _listener.Start();
        _ = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>True once a COMMIT was cut.</summary>
    public bool Cut => Volatile.Read(ref _armed) == 0;

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }

            if (_refuseAfterCut && Cut)
            {
                client.Dispose();
                continue;
            }

            _ = RelayAsync(client);
        }
    }

    private async Task RelayAsync(TcpClient client)
    {
        using var server = new TcpClient();
        using (client)
        {
            await server.ConnectAsync(_host, _port);
            var cutting = new StrongBox<bool>();
            var toClient = PumpAsync(server.GetStream(), client.GetStream(), watch: false, cutting, client, server);
            var toServer = PumpAsync(client.GetStream(), server.GetStream(), watch: true, cutting, client, server);
            await Task.WhenAny(toClient, toServer);
        }
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

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        _stop.Dispose();
    }
}
